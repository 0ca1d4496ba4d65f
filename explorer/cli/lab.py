"""`explore lab 05|06|08`: open a lab's marimo workbench (marimo run), as a notebook (--edit), or write it
as an HTML page (--export DIR, marimo's export). marimo comes with `pip install ".[lab]"` in the repository's
folder (explorer.labs.INSTALL_HINT)."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from explorer import validation as V
from explorer.cli import main
from explorer.cli.common import track_option
from explorer.errors import ExplorerError, UsageError
from explorer.labs import LABS, TITLES, app_path, lab_key, marimo_missing

PORT = V.Int(1024, 65535, why="unprivileged TCP ports")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


class Host(click.ParamType):
    """An address to serve on: an IPv4/IPv6 literal or a host name (RFC 1123: dot-separated labels of
    letters, digits and '-', each 1-63 characters, at most 253 in all)."""

    name = "host"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            pass
        if len(text) <= 253 and all(_LABEL.fullmatch(part) for part in text.rstrip(".").split(".")):
            return text
        self.fail(f"must be an IP address or a host name (letters, digits, '-' and '.', at most 253 "
                  f"characters), got {V.short(text)}", param, ctx)


HOST = Host()


class LabChoice(click.Choice):
    """The LAB argument: 05, 06 or 08 (5, 6 and 8 too), with shell completion as a Choice; anything else is one line
    naming the argument and what it takes ("lab must be 05, 06 or 08, got '09'"), not click's "Invalid value for
    '05|06|08'", which named the metavar."""

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            labs = f"{', '.join(LABS[:-1])} or {LABS[-1]}"
            raise click.UsageError(f"lab must be {labs}, got {V.short(str(value))}", ctx) from None


EXPORT_TIMEOUT_S = 600  # an export runs every cell once; the apps solve nothing until "check" is pressed


def free_port(host: str, first: int = 2718, tries: int = 50) -> int:
    """The first port from `first` on which nothing listens (marimo's own default is 2718)."""
    for port in range(first, first + tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise UsageError(f"no free port in {first}-{first + tries - 1} on {host}; give --port")


def marimo_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "marimo", *args]


def lab_url(host: str, port: int, track: str, token: str | None = None) -> str:
    """The address to open: marimo admits a browser to an editor only with its access token (query parameter
    access_token, marimo/_server/api/auth.py), so the URL carries the token the server was given."""
    where = f"[{host}]" if ":" in host else host  # an IPv6 literal in a URL is bracketed (RFC 3986 sec. 3.2.2)
    query = f"track={track}" + (f"&access_token={token}" if token else "")
    return f"http://{where}:{port}/?{query}"


def token_file(token: str) -> str:
    """A path marimo can read the token from without it showing in the process list (a --token-password
    argument would): the read end of a pipe holding it, inherited across exec, as /dev/fd/N."""
    r, w = os.pipe()
    os.write(w, token.encode())  # a few dozen bytes: far below a pipe's buffer, so this never blocks
    os.close(w)
    os.set_inheritable(r, True)
    return f"/dev/fd/{r}"


def serve_cmd(lab: str, path: Path, track: str, host: str, port: int, edit: bool, no_browser: bool,
              token_path: str | None) -> list[str]:
    """marimo's command line: `run` (no token by default) or `edit`, whose token is read from token_path."""
    return marimo_cmd("edit" if edit else "run", str(path), "--host", host, "--port", str(port),
                      *(["--headless"] if no_browser else []), *(["--skip-update-check"] if edit else []),
                      *(["--token-password-file", token_path] if token_path else []),
                      "--", "--lab", lab, "--track", track)


def export(lab: str, track: str, out_dir: Path) -> Path:
    """Run the app once with every instrument unlocked and write marimo's HTML export of it. marimo's export also
    writes a session snapshot beside the notebook it runs (__marimo__/session/workbench.py.json, about 200 KB:
    marimo/_export/file.py, persist_session), which for the installed app was the package directory (site-packages,
    perhaps read-only or shared): it runs a copy in a temporary directory, removed after."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"lab{lab}-{track}.html"
    with tempfile.TemporaryDirectory(prefix="explorer-lab-") as tmp:
        app = Path(tmp) / app_path(lab).name
        shutil.copyfile(app_path(lab), app)
        cmd = marimo_cmd("export", "html", str(app), "-o", str(out.resolve()), "--force", "--no-include-code",
                         "--", "--lab", lab, "--track", track, "--export")
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise ExplorerError(f"marimo export of lab {lab} did not finish within {EXPORT_TIMEOUT_S} s") from None
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise ExplorerError(f"marimo export of lab {lab} failed (exit {done.returncode}): {tail[0][:200]}")
    out.write_text(with_offline_note(out.read_text(encoding="utf-8"), lab, track), encoding="utf-8")
    return out


ROOT = '<div id="root"></div>'  # where marimo's page script mounts the app (marimo/_static/index.html)
CDN = "cdn.jsdelivr.net"


def offline_note(lab: str, track: str) -> str:
    """What the exported page shows when marimo's scripts do not run: they load from its CDN, so offline (or with
    JavaScript off) the page was blank."""
    return (f'<div id="explorer-offline-note" style="max-width: 40rem; margin: 2rem auto; padding: 0 1rem; '
            f'font-family: sans-serif; line-height: 1.5">'
            f'<h1 style="font-size: 1.6rem">Lab {lab}: {TITLES[lab]} (track {track})</h1>'
            f"<p>This page is the explorer's export of the lab workbench. It is drawn by marimo's scripts, which "
            f"load from {CDN}: the page needs a network connection and JavaScript, and shows only this note until "
            f"they load.</p>"
            f"<p>Without a network, run the live workbench instead (marimo then serves its scripts itself): "
            f"<code>explore lab {lab} --track {track}</code></p></div>")


def with_offline_note(page: str, lab: str, track: str) -> str:
    """The exported page with `offline_note` inside marimo's mount point: the app's first render replaces the
    element's children (React's createRoot), so the note shows only while the scripts have not run. A page with
    no such mount point (another marimo version) is returned as it was."""
    if page.count(ROOT) != 1:
        return page
    return page.replace(ROOT, f'<div id="root">{offline_note(lab, track)}</div>')


@main.command("lab")
@click.argument("lab", type=LabChoice(sorted(LABS) + ["5", "6", "8"]), metavar="05|06|08")
@track_option
@click.option("--edit", is_flag=True, help="Open the app as an editable notebook (a copy in the current "
                                          "directory, made the first time) instead of as an app.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser (headless: print the URL only).")
@click.option("--port", type=PORT, default=None, help="Port to serve on (default: the first free from 2718).")
@click.option("--host", type=HOST, default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--export", "export_dir", type=V.OUT_DIR, default=None,
              help="Write the app as an HTML page (marimo's export, every instrument at its starting "
                   "value) into this directory instead of serving it.")
@click.option("--reset", is_flag=True, help="Forget the predictions locked and the moves made in this lab on this "
                                           "track (kept across reloads in your state directory), then open it.")
def lab_cmd(lab: str, track: str, edit: bool, no_browser: bool, port: int | None, host: str,
            export_dir: Path | None, reset: bool) -> int:
    """Open a lab's workbench: predictions, sliders, live instruments, check against the optimum.

    LAB is 05 (distributed training), 06 (collective communication) or 08 (model training). Each part's locked
    prediction and moves are kept (a reload finds them) in a file of your state directory ($EXPLORER_LAB_STATE,
    else $XDG_STATE_HOME or ~/.local/state, under explorer/labs); --reset starts the lab afresh."""
    lab = lab_key(lab)
    why = marimo_missing()
    if why:
        raise UsageError(why)
    if export_dir is not None:
        # an export serves nothing and edits nothing: the serving options given with it would be dropped
        served = [name for name, given in (("--edit", edit), ("--port", port is not None),
                                           ("--no-browser", no_browser), ("--host", host != "127.0.0.1"),
                                           ("--reset", reset)) if given]
        if served:
            raise UsageError(f"--export writes an HTML page and serves nothing, so {', '.join(served)} would do "
                             "nothing; give --export alone, or drop it to serve the app")
        out = export(lab, track, Path(export_dir))
        click.echo(f"lab {lab} ({TITLES[lab]}, {track}): {out}")
        return 0
    if reset:
        from explorer.labs.kit import forget, state_file

        try:
            gone = forget(lab, track)
        except OSError as exc:
            raise ExplorerError(f"cannot remove {state_file(lab, track)}: {exc.strerror or exc}") from None
        click.echo(f"lab {lab} ({track}): " + (f"forgot the predictions and moves kept in {gone}" if gone else
                                               "no prediction or move was kept; starting afresh"))
    path = app_path(lab)
    if edit:  # never edit the installed package: a copy of its own for the student
        copy = Path.cwd() / f"lab{lab}.py"
        if not copy.exists():
            shutil.copyfile(path, copy)
            click.echo(f"copied the lab {lab} app to {copy} (your edits stay there)")
        path = copy
    port = port or free_port(host)
    # The editor runs code, so marimo guards it with a token (`marimo edit --help`: default --token); we choose
    # it and hand it over, so that the URL printed here is one that opens (`marimo run` has none by default).
    token = secrets.token_urlsafe(24) if edit else None
    posix = os.name == "posix"
    cmd = serve_cmd(lab, path, track, host, port, edit, no_browser,
                    (token_file(token) if posix else "-") if token else None)
    url = lab_url(host, port, track, token)
    click.echo(f"lab {lab} ({TITLES[lab]}, track {track}): {url}  (Ctrl-C stops it)", err=False)
    sys.stdout.flush()
    if posix:  # marimo takes the process over: Ctrl-C and kill reach it directly, no orphan
        os.execv(cmd[0], cmd)
    try:  # elsewhere the token goes in on marimo's stdin ('--token-password-file -')
        return subprocess.run(cmd, input=token, text=True).returncode if token else subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0
