"""Derives assets/linke_turbidity.bin from the Linke turbidity climatology pvlib ships.

Source: pvlib-python's `pvlib/data/LinkeTurbidities.h5` (monthly Linke turbidity at 1/12°, from
the SoDa service's climatology by Remund, Wald et al., Meteotest/MINES ParisTech, 2003), stored
there as uint8 = 20 × TL, rows from 90°N southwards, columns from 180°W eastwards.

The asset keeps the full 1/12° grid, near-losslessly coded so that every value is within one unit
(TL within 0.05) of the original: per grid row and month, along the row, each value is predicted
by the previous reconstructed one and the residual is quantised to a multiple of 3. Each grid row
(12 months × 4320 residuals as int8, month-major) is one zlib stream, so a lookup inflates one row.

Layout (little-endian): b"PGTL", u32 version=1, u32 rows, u32 cols, u32 months, u32 step,
then rows+1 u32 offsets of the row streams from the start of the data, then the streams.

Run: python validation/make_linke_turbidity.py [path/to/LinkeTurbidities.h5] > assets/linke_turbidity.bin
"""
import os
import struct
import sys
import zlib

import h5py
import numpy as np

STEP = 3  # residual quantum; reconstruction error <= STEP // 2 = 1 unit (TL 0.05)


def main():
    if len(sys.argv) > 1:
        path = sys.argv[1]
    else:
        import pvlib
        path = os.path.join(os.path.dirname(pvlib.__file__), "data", "LinkeTurbidities.h5")
    with h5py.File(path, "r") as f:
        lt = f["LinkeTurbidity"][:].astype(np.int32)  # (2160, 4320, 12)
    rows, cols, months = lt.shape
    a = np.ascontiguousarray(lt.transpose(0, 2, 1))  # row, month, col
    half = STEP // 2
    residual = np.zeros_like(a)
    prev = np.zeros((rows, months), dtype=np.int32)
    for j in range(cols):
        e = a[:, :, j] - prev
        k = np.where(e >= 0, (e + half) // STEP, -((-e + half) // STEP))
        residual[:, :, j] = k
        prev = prev + k * STEP
        assert np.abs(prev - a[:, :, j]).max() <= half
    assert residual.min() >= -128 and residual.max() <= 127
    streams = [zlib.compress(residual[r].astype(np.int8).tobytes(), 9) for r in range(rows)]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in streams])]).astype("<u4")
    out = sys.stdout.buffer
    out.write(b"PGTL" + struct.pack("<5I", 1, rows, cols, months, STEP))
    out.write(offsets.tobytes())
    for s in streams:
        out.write(s)


if __name__ == "__main__":
    main()
