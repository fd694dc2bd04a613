"""Glue-style job arguments (``--name value``) for every runtime.

The Glue service adds its own arguments to every run (``--JOB_NAME``, ``--JOB_RUN_ID``,
``--TempDir``, ``--job-bookmark-option``, ``--enable-metrics``, ...). ``strip_glue_arguments``
removes them so that a job script sees only its own, on Glue, on EMR and locally alike; the
job's parser then rejects anything else it does not know with one clear line.
"""

import argparse
import copy
import difflib
import importlib.util
import logging
import math
import re
import zoneinfo
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from lakejobs.errors import UsageError

LOG = logging.getLogger(__name__)

#: Exact names of arguments that the Glue service or a Glue job definition passes.
GLUE_ARGUMENTS = frozenset(
    {
        "--JOB_NAME",
        "--JOB_ID",
        "--JOB_RUN_ID",
        "--TempDir",
        "--job-bookmark-option",
        "--job-language",
        "--class",
        "--scriptLocation",
        "--extra-py-files",
        "--extra-jars",
        "--extra-files",
        "--user-jars-first",
        "--additional-python-modules",
        "--python-modules-installer-option",
        "--python-virtual-env",
        "--python-virtual-env-storage-prefix",  # Glue 6
        "--datalake-formats",
        "--conf",
        "--spark-event-logs-path",
        "--encryption-type",
        "--redshift-tmp-dir",
        "--disable-proxy-v2",
        "--executor-cores",
        "--customer-driver-env-vars",
        "--customer-executor-env-vars",
        "--auto-scale-within-microbatch",
        "--write-shuffle-files-to-s3",
        "--write-shuffle-spills-to-s3",
        "--source-map",
        "--security_configuration",
        "--RedshiftTempDir",  # awsglue.utils.getResolvedOptions reserves these two
        "--continuation-option",
    }
)
#: Prefixes of Glue's families of arguments (``--enable-metrics``, ``--continuous-log-logGroup``).
#: Glue 5's ``--custom-logGroup-prefix`` and ``--custom-logStream-prefix`` too.
GLUE_PREFIXES = ("--enable-", "--continuous-log-", "--custom-log", "--JOB_", "--job-")
#: Glue's run identifiers are upper case (``--SECURITY_CONFIGURATION``, a workflow's
#: ``--WORKFLOW_NAME`` and ``--WORKFLOW_RUN_ID``); a job's own arguments never are.
_UPPER_CASE_NAME = re.compile(r"--[A-Z][A-Z0-9_]*")
#: Glue arguments whose value may itself start with ``--`` (pip options such as ``--upgrade``).
VALUE_MAY_LOOK_LIKE_AN_OPTION = frozenset({"--python-modules-installer-option"})


def is_glue_argument(token: str) -> bool:
    """Tell whether ``token`` (``--name`` or ``--name=value``) is one of Glue's own arguments."""
    name = token.split("=", 1)[0]
    return name in GLUE_ARGUMENTS or name.startswith(GLUE_PREFIXES) or bool(_UPPER_CASE_NAME.fullmatch(name))


def strip_glue_arguments(argv: Sequence[str]) -> Tuple[List[str], Dict[str, str]]:
    """Split ``argv`` into the job's own arguments and Glue's.

    A Glue argument takes the next token as its value unless that token is another
    ``--option`` (Glue passes flags such as ``--enable-metrics`` with an empty value); one of
    ``VALUE_MAY_LOOK_LIKE_AN_OPTION`` always takes it.

    Returns
    -------
    tuple
        ``(own_arguments, glue_arguments)`` where ``glue_arguments`` maps name -> value.
    """
    own: List[str] = []
    glue: Dict[str, str] = {}
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.startswith("--") and is_glue_argument(token):
            name, has_value, value = token.partition("=")
            following = tokens[index + 1] if not has_value and index + 1 < len(tokens) else None
            if following is not None and (name in VALUE_MAY_LOOK_LIKE_AN_OPTION or not following.startswith("--")):
                value = following
                index += 1
            glue[name] = value
        else:
            own.append(token)
        index += 1
    return own, glue


def parse_bool(text: str) -> bool:
    """Read ``true``/``false`` (also ``1``/``0``, ``yes``/``no``) as a Glue argument gives it."""
    lowered = str(text).strip().lower()
    if lowered in ("true", "1", "yes", "y"):
        return True
    if lowered in ("false", "0", "no", "n"):
        return False  # not an empty text: an unset shell variable (``--header "$HEADER"``) is no answer
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_incremental_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--incremental`` alone or with ``true|false`` (the jobs take ``--incremental true|false``)."""
    parser.add_argument(
        "--incremental",
        nargs="?",
        const=True,
        default=False,
        type=parse_bool,
        metavar="true|false",
        help=f"{help_text} (alone: true, as the jobs' --incremental true)",
    )


def is_time_zone_name(text: str) -> bool:
    """Whether ``text`` names a time zone (``America/New_York``, ``UTC``).

    A host without a time zone database (no tzdata) knows no name: every non-empty one is
    taken then, and Spark, which has its own, checks it.
    """
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder (America) of tzdata
        return bool(text.strip()) and not zoneinfo.available_timezones()
    return True


def _number(text: str, expected: str, accept: Callable[[float], bool]) -> float:
    """Read a number that ``accept`` takes (nan never is), else say what was ``expected``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value) or not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def parse_fraction(text: str) -> float:
    """Read a number between 0 and 1."""
    return _number(text, "a number between 0 and 1", lambda value: 0.0 <= value <= 1.0)


def parse_positive_number(text: str) -> float:
    """Read a finite number above 0 (seconds, a speed)."""
    return _number(text, "a positive number", lambda value: 0.0 < value < math.inf)


def parse_hours(text: str) -> float:
    """Read a finite number of hours, 0 or more."""
    return _number(text, "a number of hours, 0 or more", lambda value: 0.0 <= value < math.inf)


#: The largest whole number an option takes: Java's ``int``, which JDBC options and Spark read.
MAX_WHOLE = 2**31 - 1


def parse_positive(text: str) -> int:
    """Read a whole number from 1 to ``MAX_WHOLE``.

    A larger one (``--batch_size 3000000000``) failed in the JVM with a
    ``NumberFormatException`` after the run had started (until session 42).
    """
    if not str(text).strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    if int(text) > MAX_WHOLE:
        raise argparse.ArgumentTypeError(f"expected a whole number up to {MAX_WHOLE:,}, got {text!r}")
    return int(text)


def parse_iso_date(text: str) -> str:
    """Read a calendar date written ``YYYY-MM-DD``; return it as given."""
    import datetime as dt

    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            dt.date.fromisoformat(text)
            return text
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}")


def parse_endpoint_url(text: str) -> str:
    """Read an endpoint URL: ``http(s)://host[:port]`` (what botocore takes as ``endpoint_url``)."""
    from urllib.parse import urlparse

    parsed = urlparse(text.strip())
    try:
        port_ok = parsed.port is None or 0 < parsed.port < 65536
    except ValueError:
        port_ok = False
    if parsed.scheme not in ("http", "https") or not parsed.hostname or not port_ok:
        raise argparse.ArgumentTypeError(f"expected an endpoint URL like http://127.0.0.1:5000, got {text!r}")
    return text.strip()


def parse_seed(text: str) -> int:
    """Read a random seed: a whole number, 0 or more (Python seeds -n exactly as n)."""
    if not str(text).strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or more, got {text!r}")
    return int(text)


#: Pattern letters Spark 3 parses dates and timestamps with (its "Datetime Patterns"), and
#: how many of one it takes in a row at most: the week-based ``Y``, ``w``, ``u``..., the
#: formatting-only ``E``, ``F``, ``Q`` and letters Java does not know are refused by Spark
#: only once the first row is read, in an error whose first line does not say which.
PATTERN_LETTERS = {**dict.fromkeys("DdaHhKkmSsXxZzO", 99), "y": 6, "M": 4, "L": 4, "G": 4, "V": 2}
WEEK_BASED = {**dict.fromkeys("Yu", "y (the year)"), **dict.fromkeys("wWec", "d (day of month) or D (day of year)")}


def datetime_pattern_problem(pattern: str) -> Optional[str]:
    """Why Spark 3 cannot parse with the datetime ``pattern`` (None when it can).

    Text in single quotes is literal (``''`` is a quote); the letters outside are checked
    against ``PATTERN_LETTERS``.
    """
    letters = re.sub(r"'[^']*'?", "", pattern)  # quoted text, '' included
    for run in re.finditer(r"([A-Za-z])\1*", letters):
        letter, count = run.group(1), len(run.group(0))
        if letter in WEEK_BASED:
            return f"{letter!r} is a week-based field, which Spark 3 does not parse: use {WEEK_BASED[letter]}"
        if letter not in PATTERN_LETTERS:
            return f"Spark 3 does not parse with the pattern letter {letter!r}"
        if count > PATTERN_LETTERS[letter]:
            return f"{letter * count!r}: Spark 3 takes at most {PATTERN_LETTERS[letter]} {letter!r} in a row"
    if re.search(r"[#{}]", letters):
        return "'#', '{' and '}' are reserved in datetime patterns (quote them: '#')"
    return _changes_values(letters)


def _changes_values(letters: str) -> Optional[str]:
    """Why a pattern Spark parses with would read some values as other ones (None when it would not).

    Until session 42 both were taken: ``hh`` without ``a`` read ``12:30`` as ``00:30`` (and
    quarantined every hour from 13), and ``yy`` read ``01.05.69`` as 2069-05-01.
    """
    hours = re.search(r"([hK])\1*", letters)
    if hours and "a" not in letters:
        return (
            f"{hours.group(0)!r} is an hour of a 12-hour clock, which needs the AM/PM marker 'a' (without it 12:30 "
            "is read as 00:30): use HH for a 24-hour clock"
        )
    if re.search(r"(?<![yu])([yu])\1(?![yu])", letters):
        return "a two-letter year reads '69' as 2069 (Spark's two-digit years are 2000-2099): use yyyy"
    return None


def parse_datetime_pattern(text: str) -> str:
    """Read a date or timestamp pattern Spark 3 can parse with (``datetime_pattern_problem``)."""
    problem = datetime_pattern_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r} is not a pattern Spark can parse dates with: {problem}")
    return text


#: Pattern letters that read a zone or an offset (``XXX``, ``Z``, ``VV``...).
ZONE_LETTERS = "XxZzOV"


def parse_local_datetime_pattern(text: str) -> str:
    """Read a pattern of wall-clock dates or times: ``parse_datetime_pattern``, without a zone or offset.

    The field jobs read such values in a time zone of their own (taxi's ``--timezone``) or as
    calendar days; a value parsed with its offset is already an instant, which they would shift
    a second time (a taxi trip across a DST change 7x too fast, a date moved to UTC's).
    """
    pattern = parse_datetime_pattern(text)
    zones = sorted(set(re.sub(r"'[^']*'?", "", pattern)) & set(ZONE_LETTERS))
    if zones:
        raise argparse.ArgumentTypeError(
            f"{text!r} reads a zone or offset ({', '.join(zones)}); this job reads wall-clock values: leave it out"
        )
    return pattern


def parse_columns(text: str) -> Tuple[str, ...]:
    """Read a comma-separated column list (``c1,c2``); a name given twice is refused."""
    columns = tuple(part.strip() for part in text.split(",") if part.strip())
    if not columns:
        raise argparse.ArgumentTypeError("expected one or more column names separated by commas")
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"a column is named twice: {', '.join(repeated)}")
    return columns


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that states each option's default, unless its text already says it.

    (argparse's ``ArgumentDefaultsHelpFormatter`` repeats a default the text gives, and skips
    options without a help text.)
    """

    def _format_action(self, action: argparse.Action) -> str:
        default = _shown_default(action)
        if not action.help and default is not None:
            action = copy.copy(action)
            action.help = f"default: {default}".replace("%", "%%")
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        text, default = action.help or "", _shown_default(action)
        if default is None or "default" in text:
            return text
        return f"{text} (default: {default})".replace("%", "%%") if "%" not in text else text


def _shown_default(action: argparse.Action) -> Optional[str]:
    """An option's default as its help shows it; None for none (a flag, an empty value)."""
    default = action.default
    if action.nargs == 0 or default is None or default is argparse.SUPPRESS:
        return None
    if isinstance(default, bool):
        return str(default).lower()  # as the options take it: --incremental false
    shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
    return shown or None


class JobArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises ``UsageError`` (one line) instead of exiting."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse hook
        raise UsageError(f"{message} (see --help)")  # the runtime prefixes "<job>: error: "


def new_parser(prog: str, description: str) -> JobArgumentParser:
    """Create a job's parser; options use Glue's ``--snake_case value`` convention."""
    return JobArgumentParser(
        prog=prog, description=description, allow_abbrev=False, formatter_class=DefaultsHelpFormatter
    )


def parse_job_args(
    parser: argparse.ArgumentParser,
    argv: Optional[Sequence[str]],
    read_as_named: Sequence[str] = (),
    also_paths: Sequence[str] = (),
) -> argparse.Namespace:
    """Parse ``argv`` (default: ``sys.argv[1:]``) after removing Glue's own arguments.

    ``read_as_named``: path options the job reads literally (``fs.literal``), which may hold a
    glob pattern's characters (``refuse_glob_characters``). ``also_paths``: path options not
    named ``*_path`` (``warehouse_load --lake``).
    """
    import sys

    own, glue = strip_glue_arguments(sys.argv[1:] if argv is None else argv)
    if run_by_glue(glue):
        own = set_aside_other_glue_arguments(parser, own, glue)
    refuse_own_options_set_aside(parser, glue)
    refuse_spark_submit_options_off_glue(glue)
    refuse_repeated_options(parser, own)
    namespace = parser.parse_args(own)
    refuse_empty_paths(namespace, also_paths)
    refuse_glob_characters(namespace, read_as_named, also_paths)
    refuse_empty_values(parser._actions, namespace)  # noqa: SLF001 - argparse keeps its options there
    return namespace


def set_aside_other_glue_arguments(
    parser: argparse.ArgumentParser, own: Sequence[str], glue: Dict[str, str]
) -> List[str]:
    """On Glue, set aside (into ``glue``, with a warning) a ``--kebab-case`` option the job lacks.

    Glue may add arguments ``GLUE_ARGUMENTS`` does not list yet (a new service flag); refusing
    them would fail every run at its start, as ``getResolvedOptions`` never does. A job's own
    options are snake_case, so a kebab-case name is not one of them; one that is a job option
    spelled with dashes (``--input-path``) is still refused, naming the right spelling.
    """
    options = {option for option in parser._option_string_actions if option.startswith("--")}  # noqa: SLF001
    kept: List[str] = []
    index = 0
    while index < len(own):
        token = own[index]
        name, has_value, value = token.partition("=")
        if not (name.startswith("--") and "-" in name[2:]) or name in options:
            kept.append(token)
            index += 1
            continue
        spelled = "--" + name[2:].replace("-", "_")
        if spelled in options:
            raise UsageError(f"{name} is not an option of this job; did you mean {spelled}? (see --help)")
        close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.85)
        if close:  # a slip in a kebab-case option (the catalog step's --raw-database): not Glue's
            raise UsageError(f"{name} is not an option of this job; did you mean {close[0]}? (see --help)")
        following = own[index + 1] if not has_value and index + 1 < len(own) else None
        if following is not None and not following.startswith("--"):
            value, index = following, index + 1
        glue[name] = value
        LOG.warning("%s is not an argument this job knows: set aside as one of Glue's", name)
        index += 1
    return kept


def refuse_repeated_options(parser: argparse.ArgumentParser, tokens: Sequence[str]) -> None:
    """Refuse a job option given twice: argparse keeps the last, and the first is dropped unseen.

    ``--dataset customers ... --dataset employees`` converted employees; ``--output_path A
    --output_path B`` wrote to B. Both spellings of one option (``--x v``, ``--x=v``) count.
    """
    dests = {name: action.dest for action in parser._actions for name in action.option_strings}  # noqa: SLF001
    seen = set()
    for token in tokens:
        name = token.split("=", 1)[0]
        dest = dests.get(name)
        if dest is None or name in ("-h", "--help"):
            continue
        if dest in seen:
            raise UsageError(f"{name} is given twice: give it once (argparse would keep only the last)")
        seen.add(dest)


def refuse_own_options_set_aside(parser: argparse.ArgumentParser, glue: Dict[str, str]) -> None:
    """Refuse a job option spelled as one of Glue's (``--FORMAT delta``, ``--enable-incremental true``).

    Upper-case names and Glue's prefixes (``--enable-``, ``--job-``, ...) are set aside as Glue's,
    so such an option was dropped without a word and its default used: a Parquet run for
    ``--FORMAT delta`` or ``--job-format delta``, a full run for an incremental one. Also warns
    that Glue's job bookmarks, if enabled, are not what lakejobs' incremental runs follow.
    """
    own = {option for option in parser._option_string_actions if option.startswith("--")}
    for name in glue:
        spelled = _own_spelling(name, own)
        if spelled is not None and name != spelled:
            raise UsageError(f"{name} is not an option of this job; did you mean {spelled}? (see --help)")
    if glue.get("--job-bookmark-option", "job-bookmark-disable") != "job-bookmark-disable":
        LOG.warning(
            "--job-bookmark-option %s is ignored: lakejobs keeps its own incremental state (--incremental true)",
            glue["--job-bookmark-option"],
        )


def _own_spelling(name: str, own: Iterable[str]) -> Optional[str]:
    """The job option ``name`` spells, in upper case or behind a Glue prefix (``--enable-incremental``)."""
    rests = [name[2:]] + [name[len(prefix) :] for prefix in GLUE_PREFIXES if name.startswith(prefix)]
    for rest in rests:
        spelled = "--" + rest.lower().replace("-", "_")
        if spelled in own:
            return spelled
    return None


#: Glue arguments that are also spark-submit's options: after the script they reach the job.
SPARK_SUBMIT_OPTIONS = ("--conf", "--class")


def run_by_glue(glue: Dict[str, str]) -> bool:
    """Tell whether Glue started this run: ``awsglue`` is importable, or Glue's ``--JOB_RUN_ID`` came.

    A Glue job run with a packed environment (``--python-virtual-env``) may lack ``awsglue``
    (``runtime.on_glue`` is then false and the job runs as on EMR) and still gets Glue's
    arguments, ``--conf`` included.
    """
    return "--JOB_RUN_ID" in glue or importlib.util.find_spec("awsglue") is not None


def refuse_spark_submit_options_off_glue(glue: Dict[str, str]) -> None:
    """Refuse ``--conf`` (or ``--class``) given to the job off Glue: spark-submit's, misplaced.

    On Glue they are the job's settings; under ``spark-submit`` a ``--conf`` written after the
    script is passed to the script, and was set aside without a word, its setting never applied.
    """
    misplaced = [name for name in SPARK_SUBMIT_OPTIONS if name in glue]
    if misplaced and not run_by_glue(glue):
        raise UsageError(
            f"{misplaced[0]} is a spark-submit option, given after the script: it reached the job, not "
            "spark-submit; put it before the script"
        )


#: Options whose value is one character, which may be a space or a tab (``--delimiter $'\t'``).
ONE_CHARACTER_OPTIONS = ("delimiter", "quote", "escape")


def refuse_empty_values(actions: Iterable[argparse.Action], namespace: argparse.Namespace) -> None:
    """Refuse an option given as an empty text (or only blanks), rather than read it as not given.

    ``--rules "$RULES"`` with ``RULES`` unset ran the dataset's own rules (a ``--schema``
    dataset: none), ``--target_table ""`` loaded the default table, ``lakejobs state reset
    csv_to_parquet --dataset ""`` reset the orders state. ``actions`` are the parser's (a job's,
    or every subcommand's); an option whose default is that same text (``--prefix ""``) may be given.
    """
    for action in actions:
        value = getattr(namespace, action.dest, None)
        if not action.option_strings or not isinstance(value, str) or value == action.default:
            continue
        if value == "" or (not value.strip() and action.dest not in ONE_CHARACTER_OPTIONS):
            raise UsageError(f"{action.option_strings[0]} is empty: give a value, or leave the option out")


def refuse_empty_paths(namespace: argparse.Namespace, also: Sequence[str] = ()) -> None:
    """Refuse a path option given as an empty text (an unset shell variable: ``--input_path "$IN"``).

    An empty path would otherwise name the working directory: read recursively as input, or
    written into as output.
    """
    for name, value in path_options(namespace, also):
        if not value.strip():
            raise UsageError(f"--{name} is empty: give a file or folder (local, s3://, s3a://)")
        refuse_malformed_s3_uri(f"--{name}", value)


def path_options(namespace: argparse.Namespace, also: Sequence[str] = ()) -> Iterator[Tuple[str, str]]:
    """(name, value) of each path option given: those named ``*_path``, and those in ``also``."""
    for name, value in sorted(vars(namespace).items()):
        if (name.endswith("_path") or name in also) and isinstance(value, str):
            yield name, value


#: Characters a Hadoop glob pattern gives a meaning: Spark reads every path as one.
GLOB_CHARACTERS = "{}[]*?\\"


def refuse_glob_characters(
    namespace: argparse.Namespace, read_as_named: Sequence[str] = (), also: Sequence[str] = ()
) -> None:
    """Refuse a job's path option holding a character of a Hadoop glob pattern.

    Spark's readers take each path as a pattern: ``--input_path in/tx[1]`` read the folder
    ``in/tx1`` instead (its rows loaded, SUCCEEDED), ``in/fx{eu}`` was "not found", and an
    output ``t[1]`` was written once and then not found by every later run. Escaping every read
    of every table is not done (``fs.literal`` covers listed input files, and the options in
    ``read_as_named``: ``csv_to_parquet --input_path``), so such a path is refused.
    """
    for name, value in path_options(namespace, also):
        found = sorted({char for char in value if char in GLOB_CHARACTERS})
        if found and name not in read_as_named:
            raise UsageError(
                f"--{name} {value!r} holds {' '.join(found)}, which Spark reads as a pattern matching other "
                "paths: rename it without { } [ ] * ? \\ (a file below a folder may hold them)"
            )


#: An S3 URI's scheme, in any case, and what follows it.
_S3_SCHEME = re.compile(r"(?i)(s3[an]?):(.*)", re.DOTALL)


def refuse_malformed_s3_uri(option: str, value: str) -> None:
    """Refuse an S3 path Hadoop would take apart late or wrongly (``S3://b/k``, ``s3:/b/k``, ``s3:///k``).

    Spark started and the run failed with ``bucket is null/empty`` or ``No FileSystem for
    scheme "S3"`` (exit 1, after the session's start-up) instead of one line at once.
    """
    found = _S3_SCHEME.fullmatch(value)
    if found is None:
        return
    scheme, rest = found.groups()
    if scheme != scheme.lower() or not rest.startswith("//") or not rest[2:].split("/", 1)[0]:
        raise UsageError(
            f"{option} {value} is not an S3 URI as Hadoop reads one: write {scheme.lower()}://bucket/key "
            "(a lower-case scheme, two slashes, then the bucket)"
        )
