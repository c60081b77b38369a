"""ipywidgets apps over the workbench: thin views, the logic lives in the packages.

Imported on demand (``from workbench.ui.pretok import SplitCompare``): ipywidgets is not
loaded by ``import workbench``.
"""
