"""How one conversation message looks in the chat app: HTML for user bubbles, answers, tool calls and results.

Pure functions from message dicts (the OpenAI shape the conversation keeps) to HTML strings, every
piece of text escaped; :class:`~workbench.ui.chat_app.ChatApp` puts them in widgets. A message that
left the context (``dropped``) is drawn greyed.

    >>> "Hi &lt;b&gt;" in user_html("Hi <b>") and "opacity:.45" in user_html("Hi", dropped=True)
    True
"""

from __future__ import annotations

import html

GREY = "color:#555"


def pre(text: str) -> str:
    return f"<div style='white-space:pre-wrap;line-height:1.45'>{html.escape(text)}</div>"


def calls_html(calls: list[dict]) -> str:
    out = []
    for c in calls:
        fn = c.get("function", {})
        err = f" <span style='color:#b00'>({html.escape(c['error'])})</span>" if c.get("error") else ""
        out.append(f"<div class='wb-tool-call' style='font-family:monospace;background:#f4f4f8;padding:.2em .4em;"
                   f"margin:.2em 0'>tool call <b>{html.escape(str(fn.get('name', '')))}</b>"
                   f"({html.escape(str(fn.get('arguments', '')))}){err}</div>")
    return "".join(out)


def user_html(text: str, *, dropped: bool = False) -> str:
    style = "opacity:.45;" if dropped else ""
    return (f"<div style='{style}margin:.4em 0 .2em 0;line-height:1.45'><div style='display:inline-block;"
            f"background:#e8f0fe;border-radius:6px;padding:.3em .6em;max-width:90%'>{pre(text)}</div></div>")


def answer_html(answer: str, calls: list[dict], *, dropped: bool = False) -> str:
    style = "opacity:.45;" if dropped else ""
    body = pre(answer.strip()) if answer.strip() else ""
    return f"<div style='{style}margin:.1em 0 .4em 0'>{body}{calls_html(calls)}</div>"


def tool_result_html(message: dict, *, dropped: bool = False) -> str:
    style = "opacity:.45;" if dropped else ""
    return (f"<div class='wb-tool-result' style='{style}font-family:monospace;background:#f1f8f1;padding:.2em .4em;"
            f"margin:.2em 0'>result of <b>{html.escape(str(message.get('tool_call_id', '')))}</b>: "
            f"{html.escape(content_text(message))}</div>")


def step_html(reasoning: str, calls: list[dict], result: dict) -> str:
    """One finished step of a tool loop, as the live area shows it: the reasoning (grey), the calls, the result."""
    thought = (f"<div style='{GREY};font-size:90%;white-space:pre-wrap'>{html.escape(reasoning.strip())}</div>"
               if reasoning.strip() else "")
    return thought + calls_html(calls) + tool_result_html(result)


def content_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(p.get("text", "[image]") for p in content or [] if isinstance(p, dict))
