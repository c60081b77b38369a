"""Chat templates: render through each runtime's own code, thinking/instant switches.

- :mod:`.render` ``render(template, messages, renderer=…)`` with ``RENDERERS``:
  ``hf`` (transformers), ``llama.cpp`` (built-in formatter), ``llama-cpp-python``
- :mod:`.parity` every renderer against HF on the conversation suite; ``renders_same(a, b)``
- :mod:`.modes`  the switch a template reads (``thinking`` vs ``enable_thinking``) and
  splitting a reply into reasoning and answer
"""

from workbench.chat.bundled import bundled_path, bundled_template
from workbench.chat.modes import mode_kwargs, split_reasoning, template_variables, thinking_switches
from workbench.chat.parity import parity, renders_same
from workbench.chat.render import RENDERERS, RendererLimitation, TemplateError, render

__all__ = ["RENDERERS", "RendererLimitation", "TemplateError", "bundled_path", "bundled_template", "mode_kwargs",
           "parity", "render", "renders_same", "split_reasoning", "template_variables", "thinking_switches"]
