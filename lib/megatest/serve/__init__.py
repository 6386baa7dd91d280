"""One server per area for hosts other than the home host: the HTTP side (rpc_http), the server
process with its sweeps and queued actions (rpc_server, actions: the tasks table), the
client with its back-off (rpc_client), and the route of a test's calls (testroute: the
live db on the home host, else the server, else the journal).

Owns the area's token, server file and the protocol.
May import: the foundation, config, store, launch, testside, run, report.
"""
