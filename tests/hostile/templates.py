"""A corpus of hostile chat templates: what a template from the internet can do to a renderer.

Each entry is (name, template, what it attacks). None of them may end in a traceback, a hang
or an out-of-memory kill: each must end in a one-line ``TemplateError``.
"""

HOSTILE = [
    ("nested-loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "time"),
    ("print-loop", "{% for i in range(30000) %}{% for j in range(30000) %}xxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}"
                   "{% endfor %}", "time and memory"),
    ("huge-string", "{{ 'x' * 100000000000 }}", "memory"),
    ("doubling", "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
                 "{{ ns.s | length }}", "memory"),
    ("self-calling-macro", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursion"),
    ("deep-nesting", "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "the parser's recursion"),
    ("huge-output", "{{ 'Kimi' * 5000000 }}", "output size"),
    ("class-escape", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "the sandbox"),
    ("globals-escape", "{{ raise_exception.__globals__ }}", "the sandbox"),
    ("format-escape", "{{ '{0.__class__}'.format(messages) }}", "the sandbox"),
    ("broken-syntax", "{% for m in messages %}{{ m.content }", "the parser"),
]

#: the entries that exhaust time or memory (expensive: the others fail at once)
EXHAUSTING = {"nested-loops", "print-loop", "huge-string", "doubling"}
