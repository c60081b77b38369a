"""Thinking vs instant: which switch a template reads, and reasoning vs answer in a reply.

Moonshot's K2.5/K2.6 templates switch on ``thinking`` (``thinking is defined and thinking
is false``) while many clients pass ``enable_thinking=false``, which such a template
silently ignores. So the switch is never guessed: :func:`template_variables` reads the
template's AST (``jinja2.meta.find_undeclared_variables``) and :func:`mode_kwargs` passes
exactly the variables the template reads.

    >>> mode_kwargs("{% if thinking is defined and thinking is false %}x{% endif %}", thinking=False)
    {'thinking': False}
    >>> split_reasoning("<think>2+2=4</think>It is 4.")
    ('2+2=4', 'It is 4.')
    >>> split_reasoning("2+2=4</think>It is 4.")    # the prompt already ended in <think>
    ('2+2=4', 'It is 4.')
"""

from __future__ import annotations

from functools import lru_cache

from workbench.chat.render import TemplateError

#: variables that clients commonly use to switch thinking off, in the order we try them
THINKING_SWITCHES = ("thinking", "enable_thinking")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


@lru_cache(maxsize=64)
def template_variables(template: str) -> frozenset[str]:
    """Names a template reads from its context (undeclared variables of its AST).

    Only parsed, never run; a template nested past Python's recursion limit is a :class:`TemplateError`.
    """
    import jinja2
    from jinja2 import meta
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    try:
        return frozenset(meta.find_undeclared_variables(env.parse(template)))
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"template syntax error at line {e.lineno}: {' '.join(str(e.message).split())[:300]}") from e
    except RecursionError:
        raise TemplateError("the template nests too deeply to parse") from None


def reads_tools_ts(template: str) -> bool:
    """Whether the template reads ``tools_ts_str`` (a K2.5/K2.6-style template: Moonshot's tokenizer, the
    ``moonshot`` renderer, is its reference). Parsed, never run; a template that does not parse reads nothing."""
    try:
        return "tools_ts_str" in template_variables(template)
    except TemplateError:
        return False


def thinking_switches(template: str) -> list[str]:
    """Which of :data:`THINKING_SWITCHES` the template reads (``[]``: no switch)."""
    names = template_variables(template)
    return [s for s in THINKING_SWITCHES if s in names]


def mode_kwargs(template: str, *, thinking: bool) -> dict[str, bool]:
    """The template kwargs that select thinking or instant mode in *this* template."""
    return {name: thinking for name in thinking_switches(template)}


def template_kwargs(template: str, *, thinking: bool, tools: list[dict] | None = None,
                    preserve_thinking: bool = False) -> tuple[list[dict] | None, dict]:
    """``(tools, kwargs)`` to render ``template`` with, as Moonshot's tokenizer would feed it: the thinking
    switch it reads; ``preserve_thinking`` where it reads it; for a template that reads ``tools_ts_str``, the
    tools sorted by key and their TypeScript-style declaration (:mod:`workbench.chat.tools_ts`).

        >>> template_kwargs("{{ tools_ts_str }}{% if thinking is false %}{% endif %}", thinking=False,
        ...                 tools=[{"type": "function", "function": {"name": "ping"}}])[1]["thinking"]
        False
    """
    from workbench.chat.tools_ts import declare

    names = template_variables(template)
    kwargs: dict = dict(mode_kwargs(template, thinking=thinking))
    if preserve_thinking and "preserve_thinking" in names:
        kwargs["preserve_thinking"] = True
    if tools and "tools_ts_str" in names:
        tools, text = declare(tools)
        if text:
            kwargs["tools_ts_str"] = text
    return tools, kwargs


def split_reasoning(reply: str) -> tuple[str, str]:
    """``(reasoning, answer)`` of an assistant reply; reasoning is ``""`` when there is none.

    Handles ``<think>…</think>answer``, ``…</think>answer`` (the generation prompt already
    ended in ``<think>``, so the model emits only the closing tag) and an unterminated
    ``<think>…`` (still reasoning: everything is reasoning).
    """
    head, sep, tail = reply.partition(THINK_CLOSE)
    if sep:
        start = head.find(THINK_OPEN)
        reasoning = head[start + len(THINK_OPEN):] if start >= 0 else head
        return reasoning.strip(), tail.lstrip()
    stripped = reply.lstrip()
    if stripped.startswith(THINK_OPEN):
        return stripped[len(THINK_OPEN):].strip(), ""
    return "", reply
