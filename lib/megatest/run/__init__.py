"""A run: the plan (runplan: targets, tests, items, waitons, expanded), the runner (runner:
its state and its loop), readiness, skips, launching ready records (launching, localshell),
watching them (watching), the sweeper of dead tests, run operations (runops) and cleaning.

Owns the order in which records start and the judgement of their ends.
May import: the foundation, config, store, launch, testside.
"""
