"""logpro, Megatest's log checker: rule files (Scheme forms) applied to a log, line by line.

reader (text -> data), scheme (the small language real rule files use), rx (irregex -> re),
rules (forms -> RuleSet), check (a log -> counts and a verdict), report (HTML, .dat, summary).
"""
