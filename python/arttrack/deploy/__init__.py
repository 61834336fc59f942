"""Deployment without Python in the loop: export the network (MINDIR, ONNX, AIR) with its
metadata (:mod:`~arttrack.deploy.export`), letterbox images into the float32 binaries the C++
runner ``arttrack-infer`` reads (:mod:`~arttrack.deploy.binaries`) and decode its outputs
back to people in original pixels (:mod:`~arttrack.deploy.runner_io`)."""
