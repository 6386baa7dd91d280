"""logpro, Megatest's log checker: rule files (Scheme forms) applied to a log, line by line.

rules (a rule file, run by megatest.config.scheme with logpro's forms added -> RuleSet), rx
(irregex -> re), check (a log -> counts and a verdict), report (HTML, .dat, summary).

A tool of its own (the `logpro` command) that tests' steps call.
May import: the foundation, config (for its Scheme).
"""
