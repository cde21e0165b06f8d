#!/usr/bin/env python3
"""OpenCV's answers for the matcher agreement test (camera-replay/tests/opencv_agreement.rs).

Runs OpenCV's FaceDetectorYN + FaceRecognizerSF on a fixed list of image pairs, exactly as
our matcher is specified, and writes camera-replay/tests/data/opencv_reference.json: for
every image the faces found (box, 5 landmarks, score, in image pixels) and which one was
taken, for every pair the cosine score, and a 64-bit hash of the decoded pixels (RGB,
row-major; see pixel_hash) so the test can require bit-exact decoding. Paths are relative to
their root ("photos:" = the face-runtime photo cache, "lfw:" = the LFW face set,
$MYNA_HIL_FACE_SET or ../shared/data/faces/lfw-deepfunneled); no image data is written.

The agreement test also puts these same JPEG files, byte for byte, into an MJPEG AVI (our
writer) and an image folder, and requires the frames our sources decode to hash as here.

The protocol (same as the Rust matcher):
  1. decode the file's bytes with cv2.imdecode (libjpeg-turbo; BGR; EXIF orientation
     ignored). Our one JPEG path (camera-replay/src/codec/) gives the same pixels, bit for
     bit, so both sides start from identical images;
  2. letterbox into 640x640: scale s = min(640/w, 640/h), size round(w*s) x round(h*s)
     (cv2.resize INTER_LINEAR), zero padding right and bottom;
  3. FaceDetectorYN(input 640x640, score 0.9, NMS 0.3, top_k 5000) on the letterbox, boxes
     and landmarks divided by the per-axis scale (new size / old size);
  4. the face with the largest box (higher score on a tie);
  5. FaceRecognizerSF.alignCrop on the ORIGINAL image, feature, match(FR_COSINE).
SFace is the published file (face_recognition_sface_2021dec.onnx); ours loads the same file
and rewrites it at load time (initializers out of the graph inputs, PRelu decomposed:
camera-replay/src/matcher/prelu.rs), so the test also checks those rewrites.

Padded enrolment of tight crops ("tight" in the JSON; docs/enrolment.md), for every image
where step 4 found a face:
  6. the tight crop: the chosen box widened to whole pixels (floor of the top-left corner,
     ceiling of the bottom-right, float32) and clipped to the image, img[y:y+h, x:x+w],
     cv2.cvtColor BGR2GRAY then GRAY2BGR (camera-replay/src/matcher/tight.rs);
  7. detection on the crop as it is (steps 2-4), to show what an unpadded enrolment finds;
  8. cv2.copyMakeBorder with px = floor(margin * w + 0.5) columns left and right and
     py = floor(margin * h + 0.5) rows top and bottom (MARGIN, BORDER: the enrolment defaults
     of camera-replay/src/matcher/enrolment.rs), then steps 2-5 on the padded image; where
     step 3 finds no face there, steps 3-5 again with a second detector at score
     FALLBACK_SCORE_THRESHOLD (EnrolmentConfig::fallback_score_threshold); that detector's
     faces are recorded for every crop ("padded_fallback");
  9. the score of the padded enrolment of a pair's first image against the wide image of its
     second (as step 5).

Rerun (needs the face runtime: `bash .ci/setup`, and ../shared/data for LFW):
  python3 -m venv /tmp/cv-venv
  /tmp/cv-venv/bin/pip install opencv-python-headless==5.0.0.93 numpy
  /tmp/cv-venv/bin/python camera-replay/reference/opencv_reference.py
(from the workspace root; OpenCV stays out of the project's own environments).
"""
import itertools
import json
import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)
WORKSPACE = os.path.dirname(CRATE)
OUT = os.path.join(CRATE, "tests", "data", "opencv_reference.json")

SIDE = 640
SCORE_THRESHOLD = 0.9
NMS_THRESHOLD = 0.3
TOP_K = 5000
# Enrolment padding: EnrolmentConfig::default() (the agreement test requires the same).
MARGIN = 0.5
BORDER = "mean"  # replicate | reflect | reflect101 | mean | constant:R,G,B
FALLBACK_SCORE_THRESHOLD = 0.6

PHOTOS = [
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "biden.jpg",
    "similarfaces-image1.jpg",
    "similarfaces-image2.jpg",
    "similarfaces-image3.jpg",
]
# LFW pairs: from fold 1 of pairs_folds1-5.txt, every 30th line of the 300 same-person
# lines and of the 300 different-person lines (10 + 10), plus fold 2's first of each.
LFW_STEP = 30


def cache_dir():
    return os.environ.get("MYNA_HIL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "myna-hil")


def face_set_dir():
    # As .ci/check-accuracy and the tests: relative paths count from the workspace root.
    return os.path.join(WORKSPACE, os.environ.get("MYNA_HIL_FACE_SET") or "../shared/data/faces/lfw-deepfunneled")


def roots():
    return {
        "photos": os.path.join(cache_dir(), "photos"),
        "lfw": face_set_dir(),
    }


# pixel_hash: sum over the RGB bytes b_i (row-major, R G B per pixel) of (b_i + 1) * M^i,
# modulo 2^64. Vectorised here, a plain loop in opencv_agreement.rs.
HASH_M = np.uint64(0x100000001B3)


def pixel_hash(bgr):
    rgb = np.ascontiguousarray(bgr[:, :, ::-1]).reshape(-1).astype(np.uint64)
    powers = np.empty(rgb.size, np.uint64)
    powers[0] = 1
    with np.errstate(over="ignore"):
        if rgb.size > 1:
            powers[1:] = np.cumprod(np.full(rgb.size - 1, HASH_M, np.uint64), dtype=np.uint64)
        total = np.sum((rgb + np.uint64(1)) * powers, dtype=np.uint64)
    return f"{int(total):016x}"


def models_dir():
    return os.environ.get("MYNA_HIL_MODELS") or os.path.join(cache_dir(), "models")


def lfw_pairs(lfw_root):
    with open(os.path.join(lfw_root, "pairs_folds1-5.txt")) as f:
        lines = [line.split() for line in f if line.strip()]
    folds, per = int(lines[0][0]), int(lines[0][1])
    body = lines[1:]
    assert len(body) == folds * 2 * per, "unexpected pairs file"
    picked = []

    def name(person, number):
        return f"lfw:{person}/{int(number):04d}.jpg"

    for fold, step in ((0, LFW_STEP), (1, per)):
        block = body[fold * 2 * per:(fold + 1) * 2 * per]
        same, diff = block[:per], block[per:]
        for row in same[::step]:
            picked.append((name(row[0], row[1]), name(row[0], row[2]), "genuine"))
        for row in diff[::step]:
            picked.append((name(row[0], row[1]), name(row[2], row[3]), "impostor"))
    return picked


def resolve(ref, rts):
    root, rel = ref.split(":", 1)
    return os.path.join(rts[root], rel)


def letterbox(img):
    h, w = img.shape[:2]
    s = min(SIDE / w, SIDE / h)
    nw = min(SIDE, max(1, int(np.floor(w * s + 0.5))))
    nh = min(SIDE, max(1, int(np.floor(h * s + 0.5))))
    out = np.zeros((SIDE, SIDE, 3), np.uint8)
    if (nw, nh) == (w, h):
        out[:h, :w] = img
    else:
        out[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out, nw / w, nh / h


def detect(det, img):
    """Steps 2-4: all faces (float32 rows of 15, image pixels) and the chosen one's index."""
    lb, sx, sy = letterbox(img)
    _, faces = det.detect(lb)
    faces = np.zeros((0, 15), np.float32) if faces is None else faces.astype(np.float32)
    faces[:, 0:14:2] /= sx
    faces[:, 1:14:2] /= sy
    if not len(faces):
        return faces, None
    areas = faces[:, 2] * faces[:, 3]
    return faces, max(range(len(faces)), key=lambda i: (areas[i], faces[i, 14]))


def face_entries(faces):
    return [{
        "box": [round(float(v), 4) for v in f[0:4]],
        "landmarks": [[round(float(f[4 + 2 * i]), 4), round(float(f[5 + 2 * i]), 4)] for i in range(5)],
        "score": round(float(f[14]), 6),
    } for f in faces]


def crop_rect(face, width, height):
    """Step 6's rectangle [x, y, w, h] (FaceBox::clipped), or None."""
    x, y, w, h = (np.float32(v) for v in face[0:4])
    x0, y0 = int(np.floor(max(x, np.float32(0)))), int(np.floor(max(y, np.float32(0))))
    x1, y1 = min(int(np.ceil(x + w)), width), min(int(np.ceil(y + h)), height)
    return None if x1 <= x0 or y1 <= y0 else [x0, y0, x1 - x0, y1 - y0]


def pad(img):
    """Step 8: copyMakeBorder with MARGIN and BORDER, and the padding (px, py)."""
    h, w = img.shape[:2]
    m = float(np.float32(MARGIN))
    px, py = int(np.floor(m * w + 0.5)), int(np.floor(m * h + 0.5))
    kinds = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT,
             "reflect101": cv2.BORDER_REFLECT_101}
    if BORDER in kinds:
        out = cv2.copyMakeBorder(img, py, py, px, px, kinds[BORDER])
    elif BORDER == "mean":
        out = cv2.copyMakeBorder(img, py, py, px, px, cv2.BORDER_CONSTANT, value=cv2.mean(img))
    else:
        r, g, b = (int(v) for v in BORDER.split(":", 1)[1].split(","))
        out = cv2.copyMakeBorder(img, py, py, px, px, cv2.BORDER_CONSTANT, value=(b, g, r))
    return out, px, py


def tight_reference(det, det_low, rec, decoded, chosen, features, pairs):
    """Steps 6-9 for every image with a chosen face, and the scores of the pairs."""
    crops, padded_features = {}, {}
    for ref in sorted(chosen):
        img = decoded[ref]
        rect = crop_rect(chosen[ref], img.shape[1], img.shape[0])
        if rect is None:
            continue
        x, y, w, h = rect
        grey = cv2.cvtColor(cv2.cvtColor(img[y:y + h, x:x + w], cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        faces, best = detect(det, grey)
        padded, px, py = pad(grey)
        pfaces, pbest = detect(det, padded)
        lfaces, lbest = detect(det_low, padded)
        if pbest is not None:
            padded_features[ref] = rec.feature(rec.alignCrop(padded, pfaces[pbest])).copy()
        elif lbest is not None:
            padded_features[ref] = rec.feature(rec.alignCrop(padded, lfaces[lbest])).copy()
        crops[ref] = {
            "rect": rect, "grey_hash": pixel_hash(grey),
            "unpadded": {"faces": face_entries(faces), "chosen": best},
            "padding": [px, py], "padded_hash": pixel_hash(padded),
            "padded": {"faces": face_entries(pfaces), "chosen": pbest},
            "padded_fallback": {"faces": face_entries(lfaces), "chosen": lbest},
        }
    out_pairs = []
    for a, b, kind in pairs:
        if a in crops:
            score = None
            if a in padded_features and b in features:
                score = round(float(rec.match(padded_features[a], features[b], cv2.FaceRecognizerSF_FR_COSINE)), 6)
            out_pairs.append({"a": a, "b": b, "kind": kind, "score": score})
    return {"margin": MARGIN, "border": BORDER, "fallback_score_threshold": FALLBACK_SCORE_THRESHOLD,
            "crops": crops, "pairs": out_pairs}


def main():
    rts = roots()
    md = models_dir()
    yunet = os.path.join(md, "face_detection_yunet_2023mar.onnx")
    sface = os.path.join(md, "face_recognition_sface_2021dec.onnx")
    for p in (yunet, sface, rts["photos"], rts["lfw"]):
        if not os.path.exists(p):
            sys.exit(f"missing {p}: run `bash .ci/setup` (LFW lives in ../shared/data)")
    cv2.setNumThreads(1)
    det = cv2.FaceDetectorYN.create(yunet, "", (SIDE, SIDE), SCORE_THRESHOLD, NMS_THRESHOLD, TOP_K)
    det_low = cv2.FaceDetectorYN.create(yunet, "", (SIDE, SIDE), FALLBACK_SCORE_THRESHOLD, NMS_THRESHOLD, TOP_K)
    rec = cv2.FaceRecognizerSF.create(sface, "")

    pairs = [(f"photos:{a}", f"photos:{b}", "photos") for a, b in itertools.combinations(PHOTOS, 2)]
    pairs += lfw_pairs(rts["lfw"])

    images, features, decoded, chosen = {}, {}, {}, {}
    for ref in sorted({r for a, b, _ in pairs for r in (a, b)}):
        data = np.fromfile(resolve(ref, rts), np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if img is None:
            sys.exit(f"cannot read {ref}")
        faces, best = detect(det, img)
        entry = {"width": int(img.shape[1]), "height": int(img.shape[0]), "rgb_hash": pixel_hash(img),
                 "faces": face_entries(faces), "chosen": best}
        if best is not None:
            aligned = rec.alignCrop(img, faces[best])
            features[ref] = rec.feature(aligned).copy()
            decoded[ref], chosen[ref] = img, faces[best]
        images[ref] = entry

    out_pairs = []
    for a, b, kind in pairs:
        score = None
        if a in features and b in features:
            score = round(float(rec.match(features[a], features[b], cv2.FaceRecognizerSF_FR_COSINE)), 6)
        out_pairs.append({"a": a, "b": b, "kind": kind, "score": score})

    doc = {
        "generator": "camera-replay/reference/opencv_reference.py",
        "opencv": cv2.__version__,
        "models": {"yunet": os.path.basename(yunet), "sface": os.path.basename(sface)},
        "decoder": "cv2.imdecode(IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION)",
        "pixel_hash": "sum of (b_i + 1) * 0x100000001B3^i mod 2^64 over the RGB bytes, row-major",
        "letterbox": SIDE,
        "score_threshold": SCORE_THRESHOLD,
        "nms_threshold": NMS_THRESHOLD,
        "images": images,
        "pairs": out_pairs,
        "tight": tight_reference(det, det_low, rec, decoded, chosen, features, pairs),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    missing = [p for p in out_pairs if p["score"] is None]
    tight = doc["tight"]
    unpadded = sum(c["unpadded"]["chosen"] is None for c in tight["crops"].values())
    padded = sum(c["padded"]["chosen"] is None for c in tight["crops"].values())
    second = sum(c["padded"]["chosen"] is None and c["padded_fallback"]["chosen"] is None
                 for c in tight["crops"].values())
    print(f"wrote {OUT}: {len(images)} images, {len(out_pairs)} pairs, {len(missing)} without a face; "
          f"{len(tight['crops'])} tight crops, no face in {unpadded} unpadded, {padded} padded "
          f"(margin {MARGIN}, {BORDER}), {second} after the second try at {FALLBACK_SCORE_THRESHOLD}")


if __name__ == "__main__":
    main()
