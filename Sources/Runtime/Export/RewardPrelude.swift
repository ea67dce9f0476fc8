// The Python helpers at the top of every exported rewards.py: medr1's text
// semantics (grapheme clusters, canonical equality, Unicode White_Space), its
// values and operators, the builtins a reward can call, the built-in rewards
// (format, format_nothink, format_think_after, format_strict, accuracy) written out as medr1's
// RewardMatch computes them, and the adapter to TRL's reward-function signature.
// RewardEquivalenceTests checks them against medr1 on recorded and hostile text.

enum RewardPrelude {
    /// Module-level names of the prelude that generated code must not reuse.
    static let reserved: Set<String> = ["MAX_COMPLETION_LENGTH", "MedR1Error", "PATTERNS", "REWARD_FUNCS", "REWARD_NAMES", "REWARD_WEIGHTS", "SAMPLE_FIELDS", "completion_records", "completion_text", "json", "math", "os", "re", "sys", "trl_reward", "unicodedata"]

    static let source = #"""
# ---------------------------------------------------------------------------
# medr1's text semantics in Python. medr1 runs on Swift strings, whose
# characters are grapheme clusters compared by canonical equivalence; Python's
# are code points. The helpers below give the values medr1 gives: counts and
# indexes by grapheme cluster (Unicode text segmentation, UAX #29), equality
# and ordering of NFC forms, whitespace as Unicode's White_Space property.
# ---------------------------------------------------------------------------
import math
import re
import unicodedata

_WS = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_WS_CHARS = "".join(sorted(_WS))
# Foundation's trimming sets: .whitespacesAndNewlines is White_Space plus U+200B
# ZERO WIDTH SPACE; .whitespaces is Zs, tab and U+200B (no line breaks).
_TRIM_CHARS = _WS_CHARS + "\u200b"
_HSPACE_CHARS = "".join(c for c in _WS_CHARS if c == "\t" or unicodedata.category(c) == "Zs") + "\u200b"

# Grapheme_Extend beyond the Mn and Me categories, and the emoji modifiers
# (together: the grapheme break class Extend).
_OTHER_EXTEND = (
    set([0x09BE, 0x09D7, 0x0B3E, 0x0B57, 0x0BBE, 0x0BD7, 0x0CC2, 0x0CD5, 0x0CD6, 0x0D3E, 0x0D57,
         0x0DCF, 0x0DDF, 0x1B35, 0x200C, 0x302E, 0x302F, 0xFF9E, 0xFF9F, 0x1133E, 0x11357, 0x114B0,
         0x114BD, 0x115AF, 0x11930, 0x1D165])
    | set(range(0x1D16E, 0x1D173)) | set(range(0xE0020, 0xE0080)) | set(range(0x1F3FB, 0x1F400)))
_PREPEND = (set([0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x0D4E, 0x110BD, 0x110CD, 0x111C2, 0x111C3,
                 0x1193F, 0x11941, 0x11A3A, 0x11D46, 0x11F02])
            | set(range(0x0600, 0x0606)) | set(range(0x11A84, 0x11A8A)))
_SPACING_EXTRA = set([0x0E33, 0x0EB3])
_PICT_RANGES = [(0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122),
                (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA), (0x231A, 0x231B), (0x2328, 0x2328),
                (0x2388, 0x2388), (0x23CF, 0x23CF), (0x23E9, 0x23F3), (0x23F8, 0x23FA), (0x24C2, 0x24C2),
                (0x25AA, 0x25AB), (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x2600, 0x27BF),
                (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55),
                (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299),
                (0x1F000, 0x1F0FF), (0x1F10D, 0x1F10F), (0x1F12F, 0x1F12F), (0x1F16C, 0x1F171),
                (0x1F17E, 0x1F17F), (0x1F18E, 0x1F18E), (0x1F191, 0x1F19A), (0x1F1AD, 0x1F1E5),
                (0x1F201, 0x1F20F), (0x1F21A, 0x1F21A), (0x1F22F, 0x1F22F), (0x1F232, 0x1F23A),
                (0x1F23C, 0x1F23F), (0x1F249, 0x1F3FA), (0x1F400, 0x1F53D), (0x1F546, 0x1F64F),
                (0x1F680, 0x1F6FF), (0x1F774, 0x1F77F), (0x1F7D5, 0x1F7FF), (0x1F80C, 0x1F80F),
                (0x1F848, 0x1F84F), (0x1F85A, 0x1F85F), (0x1F888, 0x1F88F), (0x1F8AE, 0x1F8FF),
                (0x1F90C, 0x1F93A), (0x1F93C, 0x1F945), (0x1F947, 0x1FAFF), (0x1FC00, 0x1FFFD)]


def _is_pict(o):
    for lo, hi in _PICT_RANGES:
        if lo <= o <= hi:
            return True
    return False


def _gcb(ch):
    """The grapheme cluster break class of one code point."""
    o = ord(ch)
    if o == 0x0D:
        return "CR"
    if o == 0x0A:
        return "LF"
    if o == 0x200D:
        return "ZWJ"
    if o in _OTHER_EXTEND:
        return "Extend"
    if o in _PREPEND:
        return "Prepend"
    if 0x1F1E6 <= o <= 0x1F1FF:
        return "RI"
    if 0x1100 <= o <= 0x115F or 0xA960 <= o <= 0xA97C:
        return "L"
    if 0x1160 <= o <= 0x11A7 or 0xD7B0 <= o <= 0xD7C6:
        return "V"
    if 0x11A8 <= o <= 0x11FF or 0xD7CB <= o <= 0xD7FB:
        return "T"
    if 0xAC00 <= o <= 0xD7A3:
        return "LV" if (o - 0xAC00) % 28 == 0 else "LVT"
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Me"):
        return "Extend"
    if cat in ("Cc", "Zl", "Zp") or (cat == "Cf" and o != 0x200C):
        return "Control"
    if cat == "Mc" or o in _SPACING_EXTRA:
        return "SpacingMark"
    if _is_pict(o):
        return "XP"
    return "Other"


def _clusters(s):
    """s split into extended grapheme clusters (Swift's Characters)."""
    out = []
    n = len(s)
    if n == 0:
        return out
    start = 0
    prev = _gcb(s[0])
    ri_run = 1 if prev == "RI" else 0
    pict_state = 1 if prev == "XP" else 0  # 1: XP Extend*, 2: XP Extend* ZWJ
    for i in range(1, n):
        cur = _gcb(s[i])
        join = False
        if prev == "CR" and cur == "LF":
            join = True
        elif prev in ("Control", "CR", "LF") or cur in ("Control", "CR", "LF"):
            join = False
        elif prev == "L" and cur in ("L", "V", "LV", "LVT"):
            join = True
        elif prev in ("LV", "V") and cur in ("V", "T"):
            join = True
        elif prev in ("LVT", "T") and cur == "T":
            join = True
        elif cur in ("Extend", "ZWJ", "SpacingMark"):
            join = True
        elif prev == "Prepend":
            join = True
        elif pict_state == 2 and cur == "XP":
            join = True
        elif prev == "RI" and cur == "RI" and ri_run % 2 == 1:
            join = True
        if not join:
            out.append(s[start:i])
            start = i
        # state for the next boundary
        if cur == "RI":
            ri_run = ri_run + 1 if prev == "RI" else 1
        else:
            ri_run = 0
        if cur == "XP":
            pict_state = 1
        elif cur == "Extend" and pict_state == 1:
            pict_state = 1
        elif cur == "ZWJ" and pict_state == 1:
            pict_state = 2
        else:
            pict_state = 0
        prev = cur
    out.append(s[start:])
    return out


def _boundaries(s):
    """The code point offsets where grapheme clusters start, and len(s)."""
    b = set()
    k = 0
    for c in _clusters(s):
        b.add(k)
        k += len(c)
    b.add(len(s))
    return b


def _nfc(s):
    return unicodedata.normalize("NFC", s)


def _find(s, needle, start=0):
    """Swift's s.range(of: needle) from `start`: the first occurrence that no
    combining character (grapheme break class Extend) continues; -1 if none."""
    if needle == "":
        return -1
    p = s.find(needle, start)
    while p >= 0:
        e = p + len(needle)
        if e == len(s) or _gcb(s[e]) != "Extend":
            return p
        p = s.find(needle, p + 1)
    return -1


def _first_tag(s, open_tag, close_tag):
    """The text between the first open tag and the nearest close tag after it, or None."""
    o = _find(s, open_tag)
    if o < 0:
        return None
    c = _find(s, close_tag, o + len(open_tag))
    if c < 0:
        return None
    return s[o + len(open_tag):c]


def _trim(s):
    return s.strip(_TRIM_CHARS)


def _is_ws_cluster(c):
    return c[0] in _WS


def _split_ws(s):
    words, cur = [], []
    for c in _clusters(s):
        if _is_ws_cluster(c):
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(c)
    if cur:
        words.append("".join(cur))
    return words


def _occurrences(s, sep):
    """Non-overlapping occurrences of sep that start and end on cluster boundaries."""
    if sep == "":
        return []
    bounds = _boundaries(s)
    out = []
    p = s.find(sep)
    while p >= 0:
        e = p + len(sep)
        if p in bounds and e in bounds:
            out.append(p)
            p = s.find(sep, e)
        else:
            p = s.find(sep, p + 1)
    return out


def _split_sep(s, sep):
    parts, last = [], 0
    for p in _occurrences(s, sep):
        parts.append(s[last:p])
        last = p + len(sep)
    parts.append(s[last:])
    return parts


def _replace(s, old, new):
    return new.join(_split_sep(s, old))


def _lower(s):
    return "".join(c.lower() for c in s)


def _upper(s):
    return "".join(c.upper() for c in s)


def _starts_with(s, p):
    a, b = _clusters(s), _clusters(p)
    return len(b) <= len(a) and all(_nfc(x) == _nfc(y) for x, y in zip(a, b))


def _ends_with(s, p):
    a, b = _clusters(s), _clusters(p)
    return len(b) <= len(a) and all(_nfc(x) == _nfc(y) for x, y in zip(a[len(a) - len(b):], b))


def _contains_str(s, sub):
    if sub == "":
        return True
    return _find(unicodedata.normalize("NFD", s), unicodedata.normalize("NFD", sub)) >= 0


# ---------------------------------------------------------------------------
# Values: numbers are floats, strings str, true/false bool, nil None, lists
# list, records dict (key order kept). Errors are raised as MedR1Error.
# ---------------------------------------------------------------------------
class MedR1Error(Exception):
    pass


def _is_num(v):
    return isinstance(v, float) and not isinstance(v, bool)


def _type(v):
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "record"
    if callable(v):
        return "function"
    return "value"


def _t(v):
    """Truthiness: only false and nil are false."""
    return not (v is None or v is False)


def _and(a, rhs):
    return rhs() if _t(a) else a


def _or(a, rhs):
    return a if _t(a) else rhs()


def _eq(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if a is None or b is None:
        return a is None and b is None
    if _is_num(a) and _is_num(b):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b or _nfc(a) == _nfc(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a.keys()) == list(b.keys()) and all(_eq(a[k], b[k]) for k in a)
    return a is b


def _cmp(a, b, op):
    if _is_num(a) and _is_num(b):
        c = -1 if a < b else (1 if a > b else 0)
    elif isinstance(a, str) and isinstance(b, str):
        x, y = _nfc(a), _nfc(b)
        c = -1 if x < y else (1 if x > y else 0)
    else:
        raise MedR1Error("cannot compare %s %s %s; compare two numbers or two strings" % (_type(a), op, _type(b)))
    return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]


def _add(a, b):
    if _is_num(a) and _is_num(b):
        return a + b
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    raise MedR1Error("cannot add %s and %s" % (_type(a), _type(b)))


def _nums(op, a, b):
    if not (_is_num(a) and _is_num(b)):
        raise MedR1Error("'%s' needs two numbers, got %s and %s" % (op, _type(a), _type(b)))


def _sub(a, b):
    _nums("-", a, b)
    return a - b


def _mul(a, b):
    _nums("*", a, b)
    return a * b


def _div(a, b):
    _nums("/", a, b)
    if b == 0:
        raise MedR1Error("division by zero")
    try:
        return a / b
    except OverflowError:
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _mod(a, b):
    _nums("%", a, b)
    if b == 0:
        raise MedR1Error("remainder by zero")
    if math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    m = math.fmod(a, b)
    return m + b if m != 0 and (m < 0) != (b < 0) else m


def _pow2(a, b):
    """C's pow: inf and nan where Python's math.pow raises."""
    try:
        return math.pow(a, b)
    except OverflowError:
        odd = b == math.floor(b) and math.fmod(b, 2.0) != 0
        return -math.inf if (a < 0 and odd) else math.inf
    except ValueError:
        if a == 0:
            odd = b == math.floor(b) and math.fmod(b, 2.0) != 0
            return math.copysign(math.inf, a) if odd else math.inf
        return math.nan


def _pow(a, b):
    _nums("**", a, b)
    return _pow2(a, b)


def _neg(a):
    if not _is_num(a):
        raise MedR1Error("unary '-' needs a number, got %s" % _type(a))
    return -a


def _pos(a):
    if not _is_num(a):
        raise MedR1Error("unary '+' needs a number, got %s" % _type(a))
    return a


def _index_pos(x, count):
    if not _is_num(x) or not math.isfinite(x) or x != math.floor(x):
        raise MedR1Error("a list index must be a whole number")
    if not (-count <= x < count):
        raise MedR1Error("index %s out of range" % _fmt(x))
    i = int(x)
    return count + i if i < 0 else i


def _idx(o, k):
    if isinstance(o, list):
        return o[_index_pos(k, len(o))]
    if isinstance(o, str):
        cs = _clusters(o)
        return cs[_index_pos(k, len(cs))]
    if isinstance(o, dict) and isinstance(k, str):
        if k in o:
            return o[k]
        raise MedR1Error("record has no field %r" % k)
    raise MedR1Error("cannot index a %s with a %s" % (_type(o), _type(k)))


def _get(o, name):
    if isinstance(o, dict):
        if name in o:
            return o[name]
        raise MedR1Error("record has no field '%s'" % name)
    if isinstance(o, list) and name == "length":
        return float(len(o))
    f = _BUILTINS.get(name)
    if f is not None:
        return lambda *args, **kw: f(o, *args, **kw)
    raise MedR1Error("%s has no field '%s'" % (_type(o), name))


def _range(lo, hi, closed):
    if not (_is_num(lo) and _is_num(hi)):
        raise MedR1Error("a range needs numbers, got %s and %s" % (_type(lo), _type(hi)))
    n = 0
    if math.isfinite(lo) and not math.isnan(hi):
        span = hi - lo
        if math.isinf(span):
            if span > 0:
                raise MedR1Error("a range without end cannot become a list")
        elif closed:
            n = math.floor(span) + 1 if span >= 0 else 0
        else:
            n = math.ceil(span) if span > 0 else 0
    if n > 10000000:
        raise MedR1Error("a range of over 10 million elements cannot become a list")
    return [lo + float(k) for k in range(int(n))]


def _iter(v):
    if isinstance(v, list):
        return list(v)
    if isinstance(v, str):
        return _clusters(v)
    raise MedR1Error("cannot loop over a %s" % _type(v))


def _call_method(name, obj, *args, **kw):
    if isinstance(obj, dict) and name in obj:
        return obj[name](*args, **kw)
    return _BUILTINS[name](obj, *args, **kw)


def _dbl(x):
    """Swift's shortest form of a Double that is not a whole number below 1e15."""
    r = repr(x)
    if 9007199254740992.0 < abs(x) < 1e16 and "e" not in r:
        intpart, _, frac = r.lstrip("-").partition(".")
        digits = (intpart + frac).rstrip("0")
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return ("-" if x < 0 else "") + m + "e+%02d" % (len(intpart) - 1)
    return r


def _fmt(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == math.floor(x) and abs(x) < 1e15:
        return "0" if x == 0 else str(int(x))
    return _dbl(x)


def _quote(s):
    out = ['"']
    for c in _clusters(s):
        out.append({'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}.get(c, c))
    out.append('"')
    return "".join(out)


def _repr(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nil"
    if isinstance(v, float):
        return _fmt(v)
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, list):
        return "[" + ", ".join(_repr(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{" + ", ".join("%s: %s" % (k, _repr(x)) for k, x in v.items()) + "}"
    return "<fn>"


def _str(v):
    return v if isinstance(v, str) else _repr(v)


# ---------------------------------------------------------------------------
# Builtins a reward can call, with medr1's semantics.
# ---------------------------------------------------------------------------
def _need_str(v, what):
    if not isinstance(v, str):
        raise MedR1Error("%s must be a string, got %s" % (what, _type(v)))
    return v


def _need_num(v, what):
    if not _is_num(v):
        raise MedR1Error("%s must be a number, got %s" % (what, _type(v)))
    return v


def b_len(x):
    if isinstance(x, str):
        return float(len(_clusters(x)))
    if isinstance(x, (list, dict)):
        return float(len(x))
    raise MedR1Error("len: expected a string, list, record or range, got %s" % _type(x))


def b_lower(s):
    return _lower(_need_str(s, "s"))


def b_upper(s):
    return _upper(_need_str(s, "s"))


def b_trim(s):
    return _trim(_need_str(s, "s"))


def b_split(s, sep=None):
    _need_str(s, "s")
    if sep is None:
        return _split_ws(s)
    if _need_str(sep, "sep") == "":
        raise MedR1Error("split: the separator must not be empty")
    return _split_sep(s, sep)


def b_join(xs, sep=""):
    return _need_str(sep, "sep").join(_str(x) for x in xs)


def b_contains(x, item):
    if isinstance(x, str):
        return _contains_str(x, _need_str(item, "item"))
    if isinstance(x, dict):
        return _need_str(item, "item") in x
    if isinstance(x, list):
        return any(_eq(e, item) for e in x)
    raise MedR1Error("contains: expected a string, list or record, got %s" % _type(x))


def b_starts_with(s, prefix):
    return _starts_with(_need_str(s, "s"), _need_str(prefix, "prefix"))


def b_ends_with(s, suffix):
    return _ends_with(_need_str(s, "s"), _need_str(suffix, "suffix"))


def b_replace(s, old, new):
    if _need_str(old, "old") == "":
        raise MedR1Error("replace: 'old' must not be empty")
    return _replace(_need_str(s, "s"), old, _need_str(new, "new"))


def b_str(x):
    return _str(x)


def b_repr(x):
    return _repr(x)


_NUM_RE = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|"
                     r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?|"
                     r"(?i:inf|infinity|nan))\Z")


def b_num(x):
    if _is_num(x):
        return x
    if isinstance(x, bool):
        return 1.0 if x else 0.0
    if isinstance(x, str):
        t = x.strip(_HSPACE_CHARS)
        if not _NUM_RE.match(t):
            return None
        body = t.lstrip("+-")
        if body[:2] in ("0x", "0X"):
            v = float.fromhex(body)
            return -v if t.startswith("-") else v
        return float(t)
    raise MedR1Error("num: expected a string, number or bool, got %s" % _type(x))


def b_type(x):
    return _type(x)


def b_abs(x):
    return abs(_need_num(x, "x"))


def b_sqrt(x):
    if _need_num(x, "x") < 0:
        raise MedR1Error("sqrt: square root of a negative number")
    return math.sqrt(x)


def b_log(x):
    if not _need_num(x, "x") > 0:
        if math.isnan(x):
            return x
        raise MedR1Error("log: logarithm of a non-positive number")
    return math.log(x)


def b_exp(x):
    try:
        return math.exp(_need_num(x, "x"))
    except OverflowError:
        return math.inf


def b_floor(x):
    return float(math.floor(x)) if math.isfinite(_need_num(x, "x")) else x


def b_ceil(x):
    return float(math.ceil(x)) if math.isfinite(_need_num(x, "x")) else x


def _round_half_away(v):
    if not math.isfinite(v):
        return v
    a = abs(v)
    f = math.floor(a)
    r = f + (1.0 if a - f >= 0.5 else 0.0)
    return math.copysign(r, v)


def b_round(x, digits=0.0):
    _need_num(x, "x")
    d = int(_need_num(digits, "digits"))
    scale = _pow2(10.0, float(d))
    if not math.isfinite(x * scale) and math.isfinite(x):
        return x
    if scale == 0:
        return 0.0 if math.isfinite(x) else x
    return _round_half_away(x * scale) / scale


def b_pow(x, y):
    return _pow2(_need_num(x, "x"), _need_num(y, "y"))


def _extreme(name, args, better):
    xs = list(args[0]) if len(args) == 1 and isinstance(args[0], list) else list(args)
    if not xs:
        raise MedR1Error("%s needs at least one number" % name)
    best = _need_num(xs[0], "x")
    for x in xs[1:]:
        if better(_need_num(x, "x"), best):
            best = x
    return best


def b_min(*args):
    return _extreme("min", args, lambda a, b: a < b)


def b_max(*args):
    return _extreme("max", args, lambda a, b: a > b)


def b_sum(xs):
    t = 0.0
    for x in xs:
        t += _need_num(x, "xs")
    return t


def b_mean(xs):
    if not xs:
        raise MedR1Error("mean of an empty list")
    return b_sum(xs) / len(xs)


def b_map(xs, f):
    return [f(x) for x in xs]


def b_filter(xs, f):
    return [x for x in xs if _t(f(x))]


def b_any(xs, f=None):
    return any(_t(f(x) if f is not None else x) for x in xs)


def b_all(xs, f=None):
    return all(_t(f(x) if f is not None else x) for x in xs)


def b_keys(r):
    return list(r.keys())


def b_values(r):
    return list(r.values())


def b_has(r, k):
    return k in r


def b_range(n):
    return [float(i) for i in range(int(n))]


def b_reverse(xs):
    return list(reversed(xs))


def b_take(xs, n):
    return xs[:max(0, int(n))]


def b_append(xs, x):
    return xs + [x]


def b_zip(a, b):
    return [[x, y] for x, y in zip(a, b)]


# ---------------------------------------------------------------------------
# Regular expressions: patterns are translated from ICU's syntax to Python's
# at export time (see PATTERNS); these run them with medr1's results.
# ---------------------------------------------------------------------------
_RE_CACHE = {}
# ICU's $ (without multi-line mode): the end of the text, or before one line
# terminator that ends it.
_ICU_DOLLAR = "(?=(?:\\r\\n|[\\n\\x0b\\x0c\\r\\x85\\u2028\\u2029])?\\Z)"


def _re(icu):
    r = _RE_CACHE.get(icu)
    if r is None:
        r = re.compile(PATTERNS[icu], re.DOTALL)
        _RE_CACHE[icu] = r
    return r


def _re_full(icu):
    key = ("full", icu)
    r = _RE_CACHE.get(key)
    if r is None:
        r = re.compile("(?:" + PATTERNS[icu] + ")" + _ICU_DOLLAR, re.DOTALL)
        _RE_CACHE[key] = r
    return r


def _match_op(s, icu):
    if not isinstance(s, str):
        raise MedR1Error("'~' matches a string against a pattern string, got %s" % _type(s))
    return _re(icu).search(s) is not None


# medr1 keeps a match (or a group) only when it starts and ends between two
# characters (grapheme clusters): a match that splits "e" from its accent is
# dropped (find: nil; find_all: left out; match: nil, a group: nil).
def _whole(bounds, start, end):
    return start in bounds and end in bounds


def b_find(s, icu):
    m = _re(icu).search(_need_str(s, "s"))
    if m is None or not _whole(_boundaries(s), m.start(), m.end()):
        return None
    return m.group(0)


def b_find_all(s, icu):
    ms = list(_re(icu).finditer(_need_str(s, "s")))
    if not ms:
        return []
    bounds = _boundaries(s)
    return [m.group(0) for m in ms if _whole(bounds, m.start(), m.end())]


def b_match(s, icu, full=False):
    _need_str(s, "s")
    if full:
        m = _re_full(icu).match(s)
        if m is None or m.end() != len(s):
            return None
    else:
        m = _re(icu).search(s)
        if m is None:
            return None
    bounds = _boundaries(s)
    if not _whole(bounds, m.start(), m.end()):
        return None
    groups = []
    for g in range(1, (m.re.groups or 0) + 1):
        a, b = m.span(g)
        groups.append(m.group(g) if a >= 0 and _whole(bounds, a, b) else None)
    return {"text": m.group(0), "groups": groups, "start": float(len(_clusters(s[:m.start()])))}


_BUILTINS = {
    "len": b_len, "lower": b_lower, "upper": b_upper, "trim": b_trim, "split": b_split, "join": b_join,
    "contains": b_contains, "starts_with": b_starts_with, "ends_with": b_ends_with, "replace": b_replace,
    "str": b_str, "repr": b_repr, "num": b_num, "type": b_type, "abs": b_abs, "sqrt": b_sqrt, "log": b_log,
    "exp": b_exp, "floor": b_floor, "ceil": b_ceil, "round": b_round, "pow": b_pow, "min": b_min, "max": b_max,
    "sum": b_sum, "mean": b_mean, "map": b_map, "filter": b_filter, "any": b_any, "all": b_all, "keys": b_keys,
    "values": b_values, "has": b_has, "reverse": b_reverse, "take": b_take, "append": b_append, "zip": b_zip,
    "find": b_find, "find_all": b_find_all, "match": b_match,
}

# ---------------------------------------------------------------------------
# medr1's built-in rewards.
# ---------------------------------------------------------------------------
_THINK, _THINK_END, _ANSWER, _ANSWER_END = "<think>", "</think>", "<answer>", "</answer>"


def _think_answer(u):
    """re.fullmatch(r"<think>.*?</think>\\s*<answer>.*?</answer>", u, re.DOTALL), with
    \\s as Unicode's White_Space."""
    return _two_blocks(u, _THINK, _THINK_END, _ANSWER, _ANSWER_END)


def _answer_think(u):
    """re.fullmatch(r"<answer>.*?</answer>\\s*<think>.*?</think>", u, re.DOTALL): the
    think-after format."""
    return _two_blocks(u, _ANSWER, _ANSWER_END, _THINK, _THINK_END)


def _two_blocks(u, open1, close1, open2, close2):
    """u = open1 X close1 W open2 Y close2, W whitespace: open2 starts right where the
    whitespace after some close1 ends."""
    if len(u) < len(open1) + len(close1) + len(open2) + len(close2):
        return False
    if not u.startswith(open1) or not u.endswith(close2):
        return False
    mid_end = len(u) - len(close2)
    p = len(open1)
    while p + len(close1) <= mid_end:
        if u.startswith(close1, p):
            q = p + len(close1)
            while q < mid_end and u[q] in _WS:
                q += 1
            if q + len(open2) <= mid_end and u.startswith(open2, q):
                return True
        p += 1
    return False


def _answer_only(u):
    q = 0
    while q < len(u) and u[q] in _WS:
        q += 1
    return (len(u) - q >= len(_ANSWER) + len(_ANSWER_END) and u.startswith(_ANSWER, q)
            and u.endswith(_ANSWER_END))


def _strict(u):
    if not _think_answer(u):
        return False
    for t in (_THINK, _THINK_END, _ANSWER, _ANSWER_END):
        if len(_split_sep(u, t)) != 2:
            return False
    a = _first_tag(u, _ANSWER, _ANSWER_END)
    return a is not None and _trim(a) != ""


def _normalise(s):
    t = " ".join(_split_ws(_lower(s)))
    cs = _clusters(t)
    while cs and cs[-1] == ".":
        cs.pop()
    return "".join(cs).strip(_HSPACE_CHARS)


def _drop_clusters(s, n):
    return "".join(_clusters(s)[n:])


def _is_correct(answer, sample):
    a = _normalise(answer)
    options = sample["options"]
    k = int(sample["answer_index"])
    if a == "" or not (0 <= k < len(options)):
        return False
    letter = _lower(chr(65 + k))
    text = _normalise(options[k])
    if _eq(a, text) or a == letter or a == "(" + letter + ")" or a == letter + ")":
        return True
    for prefix in (letter + ". ", letter + ") ", letter + ": ", "(" + letter + ") ", letter + ".", letter + ":"):
        if _starts_with(a, prefix) and _eq(_normalise(_drop_clusters(a, len(_clusters(prefix)))), text):
            return True
    return False


def _answer_of(text):
    a = _first_tag(text, _ANSWER, _ANSWER_END)
    return None if a is None else _trim(a)


def r_format(c):
    return 1.0 if _think_answer(c["text"]) else 0.0


def r_format_nothink(c):
    return 1.0 if _answer_only(c["text"]) else 0.0


def r_format_think_after(c):
    return 1.0 if _answer_think(c["text"]) else 0.0


def r_format_strict(c):
    return 1.0 if _strict(c["text"]) else 0.0


def r_accuracy(c):
    a = c["answer"]
    if a is None:
        return 0.0
    return 1.0 if _is_correct(a, c["sample"]) else 0.0


# ---------------------------------------------------------------------------
# TRL's reward-function signature: completions as TRL passes them (for a
# conversational prompt, a list of messages per completion), the data set's
# columns as keyword arguments, one float per completion back.
# ---------------------------------------------------------------------------
SAMPLE_FIELDS = ["id", "question", "options", "answer", "answer_letter", "answer_index", "modality",
                 "question_type", "dataset", "image", "reasoning"]


def completion_text(completion):
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        content = completion[-1].get("content", "") if isinstance(completion[-1], dict) else completion[-1]
        if isinstance(content, list):
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return content if isinstance(content, str) else str(content)
    return ""


def _sample_at(kwargs, i):
    s = {}
    for k in SAMPLE_FIELDS:
        col = kwargs.get("image_path" if k == "image" and "image_path" in kwargs else k)
        v = col[i] if isinstance(col, (list, tuple)) and i < len(col) else None
        if k == "answer_index" and v is not None:
            v = float(v)
        if k == "options" and v is not None:
            v = list(v)
        if k == "image" and not isinstance(v, str):
            v = ""
        s[k] = v
    return s


def completion_records(completions, completion_ids=None, **kwargs):
    """What a reward written for medr1 receives, one record per completion."""
    out = []
    finish = kwargs.get("finish_reason")
    for i, comp in enumerate(completions):
        text = completion_text(comp)
        think = _first_tag(text, _THINK, _THINK_END)
        ids = completion_ids[i] if completion_ids is not None and i < len(completion_ids) else None
        length = float(len(ids)) if ids is not None else 0.0
        if isinstance(finish, (list, tuple)) and i < len(finish):
            reason = finish[i]
        else:
            reason = "length" if ids is not None and len(ids) >= MAX_COMPLETION_LENGTH else "eos"
        out.append({"text": text, "think": think, "answer": _answer_of(text), "sample": _sample_at(kwargs, i),
                    "length": length, "finish_reason": reason})
    return out


def _number(name, v):
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if _is_num(v):
        return v
    raise MedR1Error("reward %s must return a number, got %s" % (name, _type(v)))


def trl_reward(name, fn):
    """fn (one completion record -> number) as a TRL reward function."""
    def reward(completions, completion_ids=None, **kwargs):
        return [_number(name, fn(c)) for c in completion_records(completions, completion_ids, **kwargs)]
    reward.__name__ = name
    return reward
"""#
}
