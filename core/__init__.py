"""Smile Mirror's headless engine: frames in, smile readings out. No pygame here."""

import os as _os

# OpenCV checks every image header against this before it allocates the picture (any format
# it decodes): 8192 x 8192, the largest image Smile Mirror reads. Read once, when cv2 loads,
# so it is set here, before any module of ours imports cv2 (see core/image_guard.py).
_os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(8192 * 8192))
