"""What Symbl's Python SDK makes of symbl.conf files: the oracle for tests/symbl_conf_python.rs.

The SDK (symbl-python-sdk, symbl/AuthenticationToken.py) builds one module-level
`configparser.ConfigParser()` and, in `fetchAppCredentialsFromFiles`:
  - if `./symbl.conf` is a regular file (`os.path.isfile`), `read_file(open(...))` it and, when
    `[credentials]` has both `app_id` and `app_secret` (`has_option`), returns them (`get`);
  - otherwise (`fetchAppCredentialsInPath`) does the same with `~/symbl.conf` (expanduser),
    read into the same parser, and returns (None, None) when that fails too;
  - then refuses an empty or missing value (`ValueError('app_id is required')`).
No exception is caught. This script does the same, written out here, for each case.

Usage: python3 sdk.py DIR. DIR/files/NAME is one file, read as `./symbl.conf` with no
`~/symbl.conf`; DIR/discovery/NAME/{work,home} is a working and a home directory. Prints one
JSON object: {"files": {NAME: RESULT}, "discovery": {NAME: RESULT}}, where RESULT is
{"app_id": ..., "app_secret": ...} or {"error": "<exception class name>"}.
"""

import configparser
import json
import os
import sys

SECTION = "credentials"
KEYS = ("app_id", "app_secret")


def has_both(parser):
    return all(parser.has_option(SECTION, key) for key in KEYS)


def read_first_complete(paths):
    """The SDK's lookup over `paths` (a path that is not a regular file is passed over)."""
    parser = configparser.ConfigParser()
    found = (None, None)
    for path in paths:
        if not os.path.isfile(path):
            continue
        with open(path) as file:
            parser.read_file(file)
        if has_both(parser):
            found = tuple(parser.get(SECTION, key) for key in KEYS)
            break
    for key, value in zip(KEYS, found):
        if value is None or len(value) == 0:
            raise ValueError(key + " is required")
    return {"app_id": found[0], "app_secret": found[1]}


def outcome(paths):
    try:
        return read_first_complete(paths)
    except Exception as error:  # the SDK lets every exception through: any is a refusal
        return {"error": type(error).__name__}


def main(root):
    results = {"files": {}, "discovery": {}}
    files = os.path.join(root, "files")
    for name in sorted(os.listdir(files)):
        results["files"][name] = outcome([os.path.join(files, name)])
    cases = os.path.join(root, "discovery")
    for name in sorted(os.listdir(cases)):
        work, home = (os.path.join(cases, name, d) for d in ("work", "home"))
        os.chdir(work)
        os.environ["HOME"] = home
        home_file = "{}/{}".format(os.path.expanduser("~"), "symbl.conf")
        results["discovery"][name] = outcome(["symbl.conf", home_file])
    json.dump(results, sys.stdout, ensure_ascii=True, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
