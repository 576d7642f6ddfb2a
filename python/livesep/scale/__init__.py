"""Work over many files on a Dask cluster: resumable batches of per-file jobs and the
corpus-scale training map (issue "Dask").

Nothing here imports Dask until a cluster is asked for: the live path never needs it.
"""

from __future__ import annotations

from livesep.scale.batch import BatchItem, BatchResult, FileRecord, batch_items, run_batch
from livesep.scale.cluster import ClusterSettings, dask_client, map_sum, mapper

__all__ = ["BatchItem", "BatchResult", "ClusterSettings", "FileRecord", "batch_items",
           "dask_client", "map_sum", "mapper", "run_batch"]
