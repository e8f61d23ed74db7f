"""Region assignment with shapely's STRtree, for comparison (called by benches/region_assign.rs).

Usage: region_assign_shapely.py BOUNDARIES.geojson POINTS.f64 RUNS
Prints the best time of RUNS bulk queries of all points against the regions. Invalid source
polygons are repaired with buffer(0), as Pantau repairs them on load.
"""
import json
import sys
import time

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import shape

geojson, points_file, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(geojson) as f:
    features = json.load(f)["features"]
polygons = []
for feature in features:
    geometry = shape(feature["geometry"])
    polygons.append(geometry if geometry.is_valid else geometry.buffer(0))
coords = np.fromfile(points_file, dtype="<f8").reshape(-1, 2)
points = shapely.points(coords)
tree = STRtree(polygons)
best = float("inf")
for _ in range(runs):
    started = time.perf_counter()
    point_index, _region_index = tree.query(points, predicate="within")
    best = min(best, time.perf_counter() - started)
inside = len(np.unique(point_index))
print(f"points_per_s={len(coords) / best:.0f} ({len(coords) / best / 1e6:.2f} M points/s, {inside} points inside a region, shapely {shapely.__version__})")
