"""The SQLite metadata store."""

import datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple
from uuid import UUID

from acoupi import data
from acoupi.components import types
from acoupi.components.sqlite_db import Database, Synchronous
from acoupi.components.stores.sqlite import reads, writes
from acoupi.components.stores.sqlite.gc_pause import gc_paused
from acoupi.components.stores.sqlite.schema import MIGRATIONS
from acoupi.timeutil import now_utc

__all__ = ["SqliteStore"]

RecordingWithOutputs = Tuple[data.Recording, List[data.ModelOutput]]


class SqliteStore(types.Store):
    """Deployments, recordings and model outputs in a SQLite file.

    Safe to use from several threads and processes at once (each thread of
    each process gets its own connection; writers queue for the write lock),
    and across ``fork``. Opening the file creates it, or upgrades its schema
    (including files written by acoupi 0.3).

    Commits use ``synchronous=NORMAL`` in WAL mode by default: the file is
    never corrupted, but a power cut may undo the last transactions committed
    just before it. Metadata is written after every recording, so syncing
    each commit would cost the SD card a flush per recording for little
    gain; pass ``synchronous="FULL"`` to make every commit survive power loss.

    Parameters
    ----------
    db_path
        The database file; missing parent directories are created.
    synchronous
        Durability of commits, ``"NORMAL"`` (default) or ``"FULL"``.
    """

    def __init__(self, db_path: Path, synchronous: Synchronous = "NORMAL") -> None:
        self.db_path = Path(db_path)
        self.database = Database(self.db_path, MIGRATIONS, synchronous=synchronous)

    def close(self) -> None:
        """Close this thread's connection (it is reopened on next use)."""
        self.database.close()

    def get_current_deployment(self) -> data.Deployment:
        """Return the deployment that started last.

        When there is none, a deployment named ``"Deployment YYYY-MM-DD
        HH:MM:SS"`` (UTC) starting now is created and stored; concurrent
        callers all get that same one.
        """
        with self.database.read() as connection:
            deployment = reads.current_deployment(connection)
        if deployment is not None:
            return deployment
        with self.database.write() as connection:
            # Checked again under the write lock: another process may have
            # created one since.
            deployment = reads.current_deployment(connection)
            if deployment is None:
                now = now_utc()
                deployment = data.Deployment(
                    name=f"Deployment {now:%Y-%m-%d %H:%M:%S}", started_on=now
                )
                writes.insert_deployment(connection, deployment)
        return deployment

    def store_deployment(self, deployment: data.Deployment) -> None:
        """Store ``deployment``; nothing happens if its id is already stored."""
        with self.database.write() as connection:
            writes.insert_deployment(connection, deployment)

    def update_deployment(self, deployment: data.Deployment) -> None:
        """Update the name, position and, when set, end of a deployment.

        Raises
        ------
        ValueError
            If no deployment with this id is stored.
        """
        with self.database.write() as connection:
            if not writes.update_deployment(connection, deployment):
                raise ValueError("No deployment found")

    def store_recording(
        self,
        recording: data.Recording,
        deployment: Optional[data.Deployment] = None,
    ) -> None:
        """Store a recording and its deployment, unless already stored.

        Parameters
        ----------
        recording
            The recording. A recording without a path is stored with a NULL
            path.
        deployment
            The deployment to attach it to; ``recording.deployment`` by
            default.
        """
        with self.database.write() as connection:
            writes.insert_recording(connection, recording, deployment)

    def store_model_output(self, model_output: data.ModelOutput) -> None:
        """Store a model output with its recording, detections and tags.

        All of it is written in one transaction. Storing an output whose id
        is already stored does nothing (so a retried task cannot fail or
        duplicate rows); the first stored version is kept.
        """
        with self.database.write() as connection:
            writes.insert_model_output(connection, model_output)

    def store_model_outputs(self, model_outputs: Sequence[data.ModelOutput]) -> None:
        """Store several model outputs in one transaction (see above)."""
        with self.database.write() as connection:
            for model_output in model_outputs:
                writes.insert_model_output(connection, model_output)

    def get_recordings(self, ids: List[UUID]) -> List[RecordingWithOutputs]:
        """Return recordings with these ids and their model outputs.

        Returns
        -------
        list of (Recording, list of ModelOutput)
            Newest recording first; outputs newest first. Unknown ids are
            skipped.
        """
        with gc_paused(), self.database.read() as connection:
            found = reads.recordings(connection, ids=ids)
            outputs = reads.outputs_of_recordings(connection, found)
        return [(recording, outputs[recording.id]) for recording in found]

    def get_recordings_by_path(self, paths: List[Path]) -> List[RecordingWithOutputs]:
        """Return recordings stored at these paths and their model outputs.

        Paths match by exact text. Ordered as :meth:`get_recordings`.
        """
        with gc_paused(), self.database.read() as connection:
            found = reads.recordings(connection, paths=paths)
            outputs = reads.outputs_of_recordings(connection, found)
        return [(recording, outputs[recording.id]) for recording in found]

    def get_recordings_info_by_path(
        self, paths: Sequence[Optional[Path]]
    ) -> List[Tuple[data.Recording, List[data.ModelOutputInfo]]]:
        """Return recordings at these paths with which models processed them.

        Cheaper than :meth:`get_recordings_by_path`: detections and tags are
        not read. Ordered as :meth:`get_recordings`.
        """
        wanted = [Path(path) for path in paths if path is not None]
        with self.database.read() as connection:
            found = reads.recordings(connection, paths=wanted)
            infos = reads.output_infos_of_recordings(connection, [r.id for r in found])
        return [(recording, infos[recording.id]) for recording in found]

    def get_recordings_model_outputs(
        self, recordings: Sequence[data.Recording]
    ) -> Dict[UUID, List[data.ModelOutput]]:
        """Return the full model outputs of each recording, by recording id.

        Every given recording has an entry (empty when it has no outputs);
        outputs are newest first.
        """
        with gc_paused(), self.database.read() as connection:
            return reads.outputs_of_recordings(connection, recordings)

    def get_model_outputs(
        self,
        after: Optional[datetime.datetime] = None,
        before: Optional[datetime.datetime] = None,
        ids: Optional[List[UUID]] = None,
        recording_ids: Optional[List[UUID]] = None,
        model_names: Optional[List[str]] = None,
        detection_ids: Optional[List[UUID]] = None,
        limit: Optional[int] = None,
    ) -> List[data.ModelOutput]:
        """Return model outputs matching every given filter, newest first.

        Parameters
        ----------
        after, before
            Inclusive bounds on ``created_on``.
        ids, recording_ids, model_names
            Allowed values; None means any, an empty list matches nothing.
        detection_ids
            Keep outputs containing one of these detections.
        limit
            At most this many outputs.
        """
        with gc_paused(), self.database.read() as connection:
            return reads.model_outputs(
                connection,
                after=after,
                before=before,
                ids=ids,
                recording_ids=recording_ids,
                model_names=model_names,
                detection_ids=detection_ids,
                limit=limit,
            )

    def get_detections(
        self,
        ids: Optional[List[UUID]] = None,
        model_output_ids: Optional[List[UUID]] = None,
        score_gt: Optional[float] = None,
        score_lt: Optional[float] = None,
        model_names: Optional[List[str]] = None,
        after: Optional[datetime.datetime] = None,
        before: Optional[datetime.datetime] = None,
    ) -> List[data.Detection]:
        """Return detections (with tags) matching every given filter.

        Parameters
        ----------
        ids, model_output_ids, model_names
            Allowed values; None means any, an empty list matches nothing.
        score_gt, score_lt
            Strict bounds on ``detection_score``.
        after, before
            Inclusive bounds on the ``created_on`` of the detection's output.

        Returns
        -------
        list of Detection
            Ordered by the creation time of their model output, oldest first;
            each output's detections in the order of ``ModelOutput.detections``.
        """
        with gc_paused(), self.database.read() as connection:
            return reads.detections(
                connection,
                ids=ids,
                model_output_ids=model_output_ids,
                score_gt=score_gt,
                score_lt=score_lt,
                model_names=model_names,
                after=after,
                before=before,
            )

    def get_predicted_tags(
        self,
        detection_ids: Optional[List[UUID]] = None,
        after: Optional[datetime.datetime] = None,
        before: Optional[datetime.datetime] = None,
        score_gt: Optional[float] = None,
        score_lt: Optional[float] = None,
        keys: Optional[List[str]] = None,
        values: Optional[List[str]] = None,
    ) -> List[data.PredictedTag]:
        """Return predicted tags matching every given filter.

        Parameters
        ----------
        detection_ids, keys, values
            Allowed values; None means any, an empty list matches nothing.
        after, before
            Inclusive bounds on the ``created_on`` of the model output. When
            either is given only detection-level tags are returned, which is
            what summaries of detections need: the tags of
            :meth:`get_detections` with the same bounds, in the same order.
        score_gt, score_lt
            Strict bounds on ``confidence_score``.
        """
        with gc_paused(), self.database.read() as connection:
            return reads.predicted_tags(
                connection,
                detection_ids=detection_ids,
                after=after,
                before=before,
                score_gt=score_gt,
                score_lt=score_lt,
                keys=keys,
                values=values,
            )

    def update_recording_path(
        self, recording: data.Recording, path: Path
    ) -> data.Recording:
        """Record that ``recording`` now lives at ``path``.

        The recording is stored first if needed. As in acoupi 0.3,
        ``recording.path`` is set to ``path`` and the same object returned.
        """
        with self.database.write() as connection:
            writes.set_recording_path(connection, recording, path)
        recording.path = path
        return recording
