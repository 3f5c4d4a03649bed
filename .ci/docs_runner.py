#!/usr/bin/env python3
"""Run the ```sh blocks of one documentation page against a running demo, in order, in one
shell, and compare what each command prints with what the page shows.

    docs_runner.py PAGE PROXY ADMIN TENANT ECHO WORKDIR

What the page shows: the `# ` lines right after a command (or after another such line) are the
output that command must print, in that order (other lines may come between). `…` matches
anything. A line that does not match as written is tried without a trailing ` (…)` remark.
Comment lines after a blank line or at the top of a block are prose, not output. A block right
after an HTML comment `<!-- not run: WHY -->` is an illustration: counted, not run; after
`<!-- exits N -->`, its last command must exit with N (`authgate explain`'s refusals). Each
command's output starts on a line of its own (a newline is printed before every command).

The demo's ports 8080, 9090, 8081 and 8082 become PROXY, ADMIN, TENANT and ECHO in the
commands and in what they must print. Exits 1 when a block does not print what its page
shows, or fails (its last command's exit status).
"""

import queue
import re
import subprocess
import sys
import threading

NOT_RUN = re.compile(r"<!--\s*not run:(.*?)-->")
EXITS = re.compile(r"<!--\s*exits (\d+)\s*-->")
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
TIMEOUT = 60


def blocks(text):
    """(line number, code, why it is not run or None, the exit status it must end with) for
    each sh block of a page."""
    for m in BLOCK.finditer(text):
        before = text[: m.start()].rstrip("\n").split("\n")
        skip = NOT_RUN.search(before[-1]) if before else None
        exits = EXITS.search(before[-1]) if before else None
        status = exits.group(1) if exits else "0"
        yield len(before) + 2, m.group(1), (skip.group(1).strip() if skip else None), status


def shown_output(code):
    """The output lines a block shows."""
    shown, previous = [], "blank"
    for line in code.split("\n"):
        if line.startswith("#"):
            if previous in ("command", "output"):
                shown.append(line[1:].strip())
                previous = "output"
            else:
                previous = "prose"
        elif not line.strip():
            previous = "blank"
        else:
            previous = "command"
    return shown


def pattern(text):
    return re.compile("^" + ".*?".join(re.escape(part) for part in text.split("…")) + "$")


def without_remark(text):
    m = re.match(r"^(.*?\S)\s+\(.*\)$", text)
    return m.group(1) if m else None


def missing(shown, printed):
    """The first shown line the output lacks (in order), or None."""
    lines = [line.rstrip("\r").strip() for line in printed.split("\n")]
    at = 0
    for expected in shown:
        candidates = [pattern(expected)]
        if without_remark(expected):
            candidates.append(pattern(without_remark(expected)))
        while at < len(lines) and not any(p.match(lines[at]) for p in candidates):
            at += 1
        if at == len(lines):
            return expected
        at += 1
    return None


def main():
    page, proxy, admin, tenant, echo, workdir = sys.argv[1:7]
    ports = {"8080": proxy, "9090": admin, "8081": tenant, "8082": echo}

    def moved(text):
        for old, new in ports.items():
            text = text.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}").replace(f"127.0.0.1%3A{old}", f"127.0.0.1%3A{new}")
        return text

    shell = subprocess.Popen(
        ["bash", "--noprofile", "--norc"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        text=True,
        bufsize=1,
    )
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in shell.stdout], daemon=True).start()
    # A newline before every command: outputs without one of their own do not run together.
    shell.stdin.write("trap 'echo' DEBUG\n")

    ran = skipped = 0
    failures = []
    text = open(page, encoding="utf-8").read()
    for number, code, why, expected_status in blocks(text):
        if why is not None:
            skipped += 1
            print(f"  {page}:{number}: not run ({why})")
            continue
        ran += 1
        mark = f"__docs_runner_{number}__"
        shell.stdin.write(moved(code) + f"\nprintf '\\n{mark} %s\\n' \"$?\"\n")
        shell.stdin.flush()
        printed, status = [], None
        while status is None:
            try:
                line = lines.get(timeout=TIMEOUT)
            except queue.Empty:
                status = "timeout"
                break
            if line.startswith(mark):
                status = line.split()[1]
            else:
                printed.append(line)
        output = "".join(printed)
        lacking = missing([moved(s) for s in shown_output(code)], output)
        if status != expected_status or lacking is not None:
            why = f"exit status {status}" if status != expected_status else f"does not print: {lacking}"
            failures.append(f"{page}:{number}: {why}\n--- it printed:\n{output.rstrip()}\n---")
            if status == "timeout":
                break
    shell.stdin.close()
    shell.kill()
    print(f"  {page}: {ran} blocks run, {skipped} not run, {len(failures)} failed")
    for f in failures:
        print(f, file=sys.stderr)
    print(f"COUNT {ran} {skipped}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
