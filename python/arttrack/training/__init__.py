"""Training: the network (:mod:`~arttrack.training.trainer`, ``python -m arttrack.train``,
:mod:`~arttrack.training.lr_schedule`) and the models fitted on its detections: the spatial
model (:mod:`~arttrack.training.spatial_fit`) and the tracker's temporal model
(:mod:`~arttrack.training.temporal_fit`), both through
:func:`arttrack.training.logistic.fit_logistic`."""
