"""A Hugging Face hub stand-in on 127.0.0.1: the endpoints huggingface_hub calls to pull a file.

- ``GET /api/models/<repo>[/revision/<rev>]?blobs=true``: the repo's files with size and LFS
  sha256 (what ``HfApi.model_info(files_metadata=True)`` reads);
- ``HEAD /<repo>/resolve/<rev>/<file>``: commit, ETag and size headers (``get_hf_file_metadata``);
- ``GET /<repo>/resolve/<rev>/<file>``: the bytes.
Unknown repos answer 404 with the hub's ``X-Error-Code: RepoNotFound``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Repo:
    files: dict[str, bytes]
    recorded_sha: dict[str, str] = field(default_factory=dict)  # override: a tampered record


class HubServer:
    def __init__(self, repos: dict[str, Repo]):
        self.repos = repos
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _repo_file(self):
                path = unquote(urlsplit(self.path).path).lstrip("/")
                for repo_id, repo in server.repos.items():
                    prefix = f"{repo_id}/resolve/"
                    if path.startswith(prefix):
                        _rev, _, name = path[len(prefix):].partition("/")
                        return repo, name
                return None, None

            def _not_found(self, code: str):
                self.send_response(404)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Type", "application/json")
                body = json.dumps({"error": code}).encode()
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _file_headers(self, data: bytes):
                sha = hashlib.sha256(data).hexdigest()
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{sha}"')
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Accept-Ranges", "bytes")

            def do_HEAD(self):
                server.requests.append(f"HEAD {self.path}")
                repo, name = self._repo_file()
                if repo is None or name not in repo.files:
                    return self._not_found("RepoNotFound" if repo is None else "EntryNotFound")
                self.send_response(200)
                self._file_headers(repo.files[name])
                self.end_headers()

            def do_GET(self):
                server.requests.append(f"GET {self.path}")
                path = unquote(urlsplit(self.path).path)
                if path.startswith("/api/models/"):
                    repo_id = path[len("/api/models/"):].split("/revision/")[0]
                    repo = server.repos.get(repo_id)
                    if repo is None:
                        return self._not_found("RepoNotFound")
                    siblings = []
                    for name, data in repo.files.items():
                        sha = repo.recorded_sha.get(name) or hashlib.sha256(data).hexdigest()
                        siblings.append({"rfilename": name, "size": len(data), "blobId": sha[:40],
                                         "lfs": {"size": len(data), "sha256": sha, "pointerSize": 134}})
                    body = json.dumps({"id": repo_id, "modelId": repo_id, "sha": COMMIT,
                                       "private": False, "siblings": siblings}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                repo, name = self._repo_file()
                if repo is None or name not in repo.files:
                    return self._not_found("RepoNotFound" if repo is None else "EntryNotFound")
                data = repo.files[name]
                self.send_response(200)
                self._file_headers(data)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "HubServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def repo_with(path: Path, name: str | None = None, **kw) -> Repo:
    return Repo(files={name or path.name: path.read_bytes()}, **kw)
