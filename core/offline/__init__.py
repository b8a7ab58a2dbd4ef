"""Offline tools: run by a developer, or once when a device is installed, never per frame.

What is here: training the Smile Score model (`train_scorer`), measuring it on labelled photos
(`evaluate`, `smile-mirror eval`), building the quantised Face Landmarker variants
(`model_build/`, in the build tools' own venv), their accuracy gate (`gate`) and the
`smile-mirror model build`/`tune` commands (`model_tools`). The mirror's run-time path
(core/ outside this package) never imports it, so a Pi starts without loading any of it.
"""
