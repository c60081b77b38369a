"""Chat templates: render through each runtime's own code, thinking/instant switches.

- :mod:`.render` ``render(template, messages, renderer=…)`` with ``RENDERERS``:
  ``hf`` (transformers), ``llama.cpp`` (built-in formatter), ``llama-cpp-python``, ``moonshot``
  (HF plus Moonshot's K2.5/K2.6 tokenizer inputs)
- :mod:`.parity` every renderer against HF on the conversation suite; ``renders_same(a, b)``
- :mod:`.modes`  the switch a template reads (``thinking`` vs ``enable_thinking``), what to pass a
  template (``template_kwargs``) and splitting a reply into reasoning and answer
- :mod:`.tools_ts` tool declarations in the TypeScript-style text K2.5/K2.6 read (``tools_ts_str``)
"""

from workbench.chat.bundled import bundled_path, bundled_template
from workbench.chat.modes import (
    mode_kwargs,
    reads_tools_ts,
    split_reasoning,
    template_kwargs,
    template_variables,
    thinking_switches,
)
from workbench.chat.parity import parity, renders_same
from workbench.chat.render import RENDERERS, RendererLimitation, TemplateError, render
from workbench.chat.tools_ts import encode_tools

__all__ = ["RENDERERS", "RendererLimitation", "TemplateError", "bundled_path", "bundled_template", "encode_tools",
           "mode_kwargs", "parity", "reads_tools_ts", "render", "renders_same", "split_reasoning", "template_kwargs",
           "template_variables", "thinking_switches"]
