#!/usr/bin/env python3
"""PESQ-WB of what was heard against what was sent, for Scripts/bench-quality.sh.

    pesq_eval.py REFERENCE.wav DEGRADED.wav [DEGRADED.wav ...]

Each file is 16-bit mono; they are resampled to 16 kHz, each degraded signal is aligned to the
reference by cross-correlation, and the overlapping part is scored with PESQ wide-band (ITU-T
P.862.2, the PyPI `pesq` package). Prints one line per degraded file: score and alignment lag.
"""
import sys
import wave

import numpy as np
from pesq import pesq
from scipy.signal import correlate, resample_poly


def read(path):
    with wave.open(path) as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
        if w.getnchannels() > 1:
            data = data[:: w.getnchannels()]
    if rate != 16000:
        from math import gcd
        g = gcd(rate, 16000)
        data = resample_poly(data, 16000 // g, rate // g)
    return data


def aligned(reference, degraded):
    lag = int(np.argmax(correlate(degraded, reference, mode="full", method="fft"))) - (len(reference) - 1)
    if lag >= 0:
        degraded = degraded[lag:]
        ref = reference
    else:
        ref = reference[-lag:]
    n = min(len(ref), len(degraded))
    return ref[:n], degraded[:n], lag


def main():
    reference = read(sys.argv[1])
    for path in sys.argv[2:]:
        ref, deg, lag = aligned(reference, read(path))
        score = pesq(16000, ref.astype(np.float32), deg.astype(np.float32), "wb")
        print(f"{path} pesq={score:.3f} lag_ms={lag / 16:.1f}")


if __name__ == "__main__":
    main()
