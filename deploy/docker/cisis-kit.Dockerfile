# syntax=docker/dockerfile:1.7
#
# The CI-SIS kit image: the official ANS test kits (XSD, schematrons, value
# sets), which the hub never embeds. The validator's init container copies
# /kit into an emptyDir and the validator reads it through BNDMR_KIT (--kit).
#
# The build context is a folder laid out as the hub expects (docs/operations.md
# says how to fill it from the ANS releases):
#
#   kit/kit-3.0/    TestContenuCDA-3-0
#   kit/kit-2.41/   TestContenuCDA-2-41
#   kit/kit-2.22/   TestContenuCDA-2-22 (schematrons of the 2017-2020 model)
#
#   docker build -f deploy/docker/cisis-kit.Dockerfile -t bndmr/cisis-kit:3.0 /path/to/kit
#
# busybox brings the one program the init container runs, cp.
ARG BASE_IMAGE=busybox:1.37
FROM ${BASE_IMAGE}
COPY --chown=0:0 . /kit/
USER 65532:65532
CMD ["ls", "/kit"]
