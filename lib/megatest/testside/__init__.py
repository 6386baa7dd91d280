"""What a test records about itself, whichever route the call takes: the calls of mt-test and
mt-exec applied to a live db (testops, execops), their parameter schema (rpc_params), data
rows and checker output (testdata, datarows, checkerdata), the final record of a test that
ended (finish), and the journal of calls that could not be delivered yet (journal).

Owns the meaning of a test's calls; the run loop (run) and the server (serve) both call it.
Loads no third-party package (a test checks that): it runs on every test host.
May import: the foundation, config, store, launch.
"""
