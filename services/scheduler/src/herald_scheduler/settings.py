"""The scheduler service's settings: Herald's shared ones plus its own (prefix ``HERALD_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from herald_infra.runtime.settings import HeraldSettings


class SchedulerSettings(HeraldSettings):
    republish_grace_seconds: float = Field(default=60.0, ge=0)
    """The sweep publishes again a ``pending`` message that has a sender account once it has
    waited this long: its publish was lost (the dispatcher publishes at once)."""
    sweep_recent_seconds: float = Field(default=3600.0, ge=0)
    """The sweep also reconciles the counters of campaigns that finished this recently."""
    sweep_batch_size: int = Field(default=1000, ge=1)
    """Most messages (or expired claims) one sweep step handles per pass."""
    unsent_batch_size: int = Field(default=1000, ge=1)
    """Unsent messages of a cancelled or out-of-time campaign ended per batch; each round of
    the unsent worker gives each tenant that has some one batch."""
    unsent_idle_seconds: float = Field(default=1.0, gt=0)
    """How long the unsent worker waits before looking again once nothing was left to end
    (and after a failed round)."""
    archive_url: str = ".local/archive"
    """Where the retention job writes the archives of runs' messages: ``file:///path`` or a
    path (relative to the working directory), or an S3-compatible bucket
    ``s3://bucket/prefix``. docs/retention.md."""
    archive_s3_endpoint_url: str | None = None
    """The S3 API's address for a bucket not on AWS (MinIO, Ceph, R2, …); none: AWS's own (or
    ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, as boto3 reads them)."""
    archive_s3_region: str | None = None
    """The bucket's region; none: ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` or the AWS config."""
    archive_s3_access_key_id: str | None = None
    """With ``archive_s3_secret_access_key``; none: boto3's own chain (``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY``, a profile, a pod's web identity or instance role)."""
    archive_s3_secret_access_key: SecretStr | None = None
    archive_s3_force_path_style: bool = False
    """Address the bucket as ``<endpoint>/<bucket>`` rather than ``<bucket>.<endpoint>``: what
    most MinIO and Ceph deployments need."""
    retention_batch_size: int = Field(default=1000, ge=1)
    """Messages the retention job reads, writes or deletes at a time."""
    retention_runs_per_pass: int = Field(default=50, ge=1)
    """Most campaign runs one retention pass archives (tenants taken in turn)."""
