"""A message box where Enter sends and Shift+Enter adds a newline, as in every chat app.

ipywidgets' ``Textarea`` has no key events, so :class:`Composer` is a small ``anywidget``: a
textarea whose text syncs as you type (:attr:`Composer.value`) and which, on Enter without
Shift (and not while an input method is composing, so Chinese or Japanese input can commit
with Enter), tells Python to send. Keys typed in the box stop there, as in ipywidgets' own
text boxes: JupyterLab's shortcuts (Shift+Enter runs the cell) never see them. Python code can
do the same with :meth:`Composer.submit`, which is what the tests call.

    >>> box = Composer(placeholder="Message")                        # doctest: +SKIP
    >>> box.on_submit(lambda text: print("send", text))              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

import anywidget
import traitlets

_ESM = """
function render({ model, el }) {
  const box = document.createElement("textarea");
  box.className = "wb-composer-input";
  box.rows = 3;
  const sync = () => {
    box.placeholder = model.get("placeholder");
    box.disabled = model.get("disabled");
    if (box.value !== model.get("value")) box.value = model.get("value");
  };
  sync();
  box.addEventListener("input", () => { model.set("value", box.value); model.save_changes(); });
  box.addEventListener("keydown", (e) => {
    e.stopPropagation();  // the notebook's shortcuts (Shift+Enter runs a cell) never see keys typed here
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    model.set("value", box.value);
    model.save_changes();
    model.send({ event: "submit", text: box.value });
  });
  model.on("change:value", sync);
  model.on("change:placeholder", sync);
  model.on("change:disabled", sync);
  el.appendChild(box);
}
export default { render };
"""

_CSS = """
.wb-composer-input { width: 100%; box-sizing: border-box; min-height: 4.5em; resize: vertical;
  font: inherit; padding: .4em .5em; border: 1px solid #bbb; border-radius: 4px; }
.wb-composer-input:focus { outline: none; border-color: #1976d2; }
"""


class Composer(anywidget.AnyWidget):
    """Message box: Enter sends, Shift+Enter adds a newline (see the module docstring)."""

    _esm = _ESM
    _css = _CSS
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._handlers: list[Callable[[str], None]] = []
        self.on_msg(self._on_frontend_msg)

    def on_submit(self, handler: Callable[[str], None]) -> None:
        """Call ``handler(text)`` when the user presses Enter (or :meth:`submit` is called)."""
        self._handlers.append(handler)

    def submit(self) -> None:
        """Send what is in the box, as Enter does."""
        for handler in self._handlers:
            handler(self.value)

    def _on_frontend_msg(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("event") == "submit":
            text = content.get("text")
            if isinstance(text, str):
                self.value = text
            self.submit()
