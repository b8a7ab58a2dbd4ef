"""BUILD-ONLY: turn the verified official Face Landmarker bundle into quantised variants.

Nothing in the kiosk's runtime path imports this package: it needs the build tools of
`requirements/build.txt` (ai-edge-quantizer and ai-edge-litert, no TensorFlow), which live in
their own venv (`.venv/build`), never in the runtime locks. The runtime side (which variants
exist and which one to load) is `core/variants.py`; the accuracy gate is `core/offline/gate.py`
and the `model build`/`tune` commands are `core/offline/model_tools.py`. See core/VARIANTS.md.
"""
