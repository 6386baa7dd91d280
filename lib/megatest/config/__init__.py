"""The test area as its files define it: the config language (parse: sections, includes,
#{...} helpers, [system] values, the Scheme subset under scheme/), the area on disk (area),
megatest.config's settings, test definitions and their items, test patterns and waitons.

Owns reading every config file; writes nothing but what a [system] command does.
May import: the foundation only.
"""
