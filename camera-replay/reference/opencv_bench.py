#!/usr/bin/env python3
"""Time OpenCV's FaceDetectorYN + FaceRecognizerSF on the matcher benchmark's frame.

The counterpart of `cargo bench -p camera-replay --bench matcher`: same models (from the
face-runtime cache), same frame (obama.jpg cropped to x 135..775, y 0..480), one thread
(cv2.setNumThreads(1)), same steps:
  detect_640x480                    FaceDetectorYN.detect on the frame letterboxed into
                                    640x640 (as ours: YuNet's input is fixed at 640x640)
  embed_112                         FaceRecognizerSF.feature on the aligned crop
  frame_640x480_detect_align_embed  letterbox + detect + alignCrop + feature
and, for information, detect_native_640x480: FaceDetectorYN at input size 640x480 (OpenCV
can shrink the network input; ONNX Runtime cannot, the model's input is fixed).

Run it in the throwaway OpenCV venv (never the project's):
  python3 -m venv /tmp/cv-venv
  /tmp/cv-venv/bin/pip install opencv-python-headless==5.0.0.93 numpy
  /tmp/cv-venv/bin/python camera-replay/reference/opencv_bench.py [--rounds N]
Run it right before or after the criterion bench on a quiet machine.
"""
import argparse
import os
import statistics
import sys
import time

import cv2
import numpy as np

CROP = (135, 0, 640, 480)


def cache_dir():
    return os.environ.get("MYNA_HIL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "myna-hil")


def models_dir():
    return os.environ.get("MYNA_HIL_MODELS") or os.path.join(cache_dir(), "models")


def letterbox(img, side=640):
    h, w = img.shape[:2]
    s = min(side / w, side / h)
    nw = min(side, max(1, int(np.floor(w * s + 0.5))))
    nh = min(side, max(1, int(np.floor(h * s + 0.5))))
    out = np.zeros((side, side, 3), np.uint8)
    out[:nh, :nw] = img if (nw, nh) == (w, h) else cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out, nw / w, nh / h


def timeit(fn, seconds, warmup=5):
    for _ in range(warmup):
        fn()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 10:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0, help="measurement time per case")
    # The published file, the one setup installs (ours strips its initializer inputs in
    # memory at load; an old cache's face_recognition_sface_2021dec.stripped.onnx is that
    # same model on disk, for comparison).
    ap.add_argument("--sface", default="face_recognition_sface_2021dec.onnx")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    md = models_dir()
    yunet = os.path.join(md, "face_detection_yunet_2023mar.onnx")
    sface = os.path.join(md, args.sface)
    photo = os.path.join(cache_dir(), "photos", "obama.jpg")
    for p in (yunet, sface, photo):
        if not os.path.isfile(p):
            sys.exit(f"missing {p}: run `bash .ci/setup`")
    img = cv2.imread(photo, cv2.IMREAD_COLOR)
    x, y, w, h = CROP
    frame = np.ascontiguousarray(img[y:y + h, x:x + w])

    det = cv2.FaceDetectorYN.create(yunet, "", (640, 640), 0.9, 0.3, 5000)
    rec = cv2.FaceRecognizerSF.create(sface, "")

    def detect():
        lb, sx, sy = letterbox(frame)
        _, faces = det.detect(lb)
        if faces is None:
            raise SystemExit("no face in the benchmark frame")
        f = faces[np.argmax(faces[:, 2] * faces[:, 3])].copy()
        f[0:14:2] /= sx
        f[1:14:2] /= sy
        return f

    face = detect()
    crop = rec.alignCrop(frame, face)

    def full():
        f = detect()
        return rec.feature(rec.alignCrop(frame, f))

    native = cv2.FaceDetectorYN.create(yunet, "", (640, 480), 0.9, 0.3, 5000)

    cases = [
        ("detect_640x480", lambda: det.detect(letterbox(frame)[0])),
        ("embed_112", lambda: rec.feature(crop)),
        ("frame_640x480_detect_align_embed", full),
        ("detect_native_640x480 (info)", lambda: native.detect(frame)),
    ]
    print(f"OpenCV {cv2.__version__}, threads {cv2.getNumThreads()}, SFace {os.path.basename(sface)}")
    for name, fn in cases:
        t = timeit(fn, args.seconds)
        print(f"{name:40s} median {statistics.median(t) * 1e3:7.2f} ms  mean {statistics.mean(t) * 1e3:7.2f} ms"
              f"  min {min(t) * 1e3:7.2f} ms  n={len(t)}")


if __name__ == "__main__":
    main()
