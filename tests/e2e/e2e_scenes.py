"""Notebook code shared by the browser tests: a 48×48 scene with a red and a blue square and
a scorer whose three outputs (" red", " blue", ".") read those squares (the last is constant)."""

TWO_SQUARES = """
import numpy as np
import eagle_kit as ek

image = np.zeros((48, 48, 3), np.uint8)
image[4:20, 4:20] = (220, 30, 30)
image[28:44, 26:44] = (30, 60, 220)


def scorer(images):
    x = images.astype(float) / 255
    red = x[:, 4:20, 4:20, 0].mean(axis=(1, 2))
    blue = x[:, 28:44, 26:44, 2].mean(axis=(1, 2))
    return np.stack([0.05 + 0.9 * red, 0.05 + 0.9 * blue, np.full(len(x), 0.9)], axis=1)


regions = ek.segment(image, n_regions=16, method="grid")
expl = ek.explain(scorer, image, regions=regions, search="exact",
                  token_names=[" red", " blue", "."], progress=False)
"""
