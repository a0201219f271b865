#!/bin/sh
# One-shot (compose service minio-init): the lake bucket and the hub's own MinIO user, limited to it.
# Idempotent: safe on every `docker compose up`. The hub never uses the MinIO root credentials.
set -eu
: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${LAKE_BUCKET:?}" "${HUB_ACCESS_KEY:?}" "${HUB_SECRET_KEY:?}"

mc alias set lake http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "lake/$LAKE_BUCKET"
# Versioning off: Delta keeps its own versions; object versions would only double the storage.

policy=/tmp/govhub-lake-policy.json
cat >"$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
     "Resource": ["arn:aws:s3:::$LAKE_BUCKET"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                   "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
     "Resource": ["arn:aws:s3:::$LAKE_BUCKET/*"]}
  ]
}
JSON
mc admin policy create lake govhub-lake "$policy"
mc admin user add lake "$HUB_ACCESS_KEY" "$HUB_SECRET_KEY"
mc admin policy attach lake govhub-lake --user "$HUB_ACCESS_KEY" 2>/dev/null || echo "policy govhub-lake already attached"
echo "lake bucket $LAKE_BUCKET ready for user $HUB_ACCESS_KEY"
