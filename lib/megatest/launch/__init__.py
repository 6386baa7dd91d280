"""How a test starts: its run directory and environment (launchprep, rundir, testenv), the
wrapper that runs its steps and writes their progress (direct, progress), the runner's
shell (shell), launcher templates and the schedulers Slurm and LSF (choice, template,
remote, slurm, lsf), and the triggers a test's state changes fire (triggers).

Owns each test's run directory and the processes and jobs that run it.
May import: the foundation, config, store.
Kept empty: mt-test imports testenv and triggers from here on every call.
"""
