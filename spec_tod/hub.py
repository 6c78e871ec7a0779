"""``--push-to-hub REPO``: upload build-data datasets and bench results to a Hugging Face Hub dataset repository.

Through ``huggingface_hub``'s ``HfApi``: ``create_repo(exist_ok=True)`` then one ``upload_folder``
commit of the chosen files (its calls: ``POST /api/repos/create``, ``POST
/api/datasets/<repo>/preupload/<revision>`` to learn each file's upload mode, large files to LFS
storage, then ``POST /api/datasets/<repo>/commit/<revision>``; huggingface_hub 1.17,
``hf_api.py`` and ``_commit_api.py``). The token is ``$HF_TOKEN`` (else the one ``hf auth login``
stored); ``$HF_ENDPOINT`` points at another Hub (a mirror, or the stand-in the tests run).
Nothing secret is ever written into the uploaded files: keys and tokens come from the environment.

``sh/env.sh`` sets ``HF_HUB_OFFLINE=1`` so that nothing else in the tool reaches the Hub; pushing
is the one explicit exception and says so instead of failing inside huggingface_hub.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from spec_tod.errors import SpecTodError


def push_folder(
    folder: Path,
    repo_id: str,
    *,
    message: str,
    path_in_repo: str | None = None,
    allow_patterns: Sequence[str] | None = None,
    ignore_patterns: Sequence[str] | None = None,
) -> str:
    """Upload the files of ``folder`` (filtered by the patterns) to the dataset repo ``repo_id`` in one
    commit, under ``path_in_repo`` (default: the root), creating the repo when it does not exist; the
    commit's URL."""
    import httpx
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError

    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise SpecTodError(f"--push-to-hub {repo_id!r}: expected a repository id such as user/spec-tod-data")
    if constants.is_offline_mode():
        raise SpecTodError(
            f"--push-to-hub {repo_id}: HF_HUB_OFFLINE is set (sh/env.sh sets it so that nothing else reaches the Hub); "
            "rerun with HF_HUB_OFFLINE=0 to push"
        )
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=os.environ.get("HF_TOKEN") or None)
    try:
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
        commit = api.upload_folder(
            folder_path=folder,
            repo_id=repo_id,
            repo_type="dataset",
            path_in_repo=path_in_repo,
            commit_message=message,
            allow_patterns=list(allow_patterns) if allow_patterns else None,
            ignore_patterns=list(ignore_patterns) if ignore_patterns else None,
        )
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "no answer"
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        hint = " (set HF_TOKEN to a token with write access)" if status in (401, 403) else ""
        raise SpecTodError(f"--push-to-hub {repo_id}: the Hub refused (HTTP {status}: {first_line}){hint}") from None
    except (httpx.HTTPError, OSError) as error:
        raise SpecTodError(f"--push-to-hub {repo_id}: cannot reach the Hub at {api.endpoint} ({error})") from None
    return str(commit.commit_url)
