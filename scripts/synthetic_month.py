#!/usr/bin/env python3
"""A labelled synthetic month of the voice_agent demo's metrics, one sample a minute.

    python3 scripts/synthetic_month.py --seed 1 --out /tmp/month
    python3 scripts/synthetic_month.py --seed 1 --clean --out /tmp/clean

Writes, under --out:

- month.om: OpenMetrics text (one family block per metric, samples in time order,
  timestamps in seconds, `# EOF` last) for
  `promtool tsdb create-blocks-from openmetrics month.om DATA_DIR`, and for the
  embedded store (the voxscope-tests anomaly harness reads the same file).
- labels.json: the period (`start`, `end`, `step` in unix seconds), the demo's
  configuration the data assumes (`scenario`: call capacity, provider daily token
  budgets) and, unless --clean, every injected anomaly (`anomalies`: kind spike,
  level_shift or drift; signal turn_latency, ttfb, error_ratio or call_volume; the
  labels that pick the affected series; start and end, unix seconds). A spike or level
  shift starts at its first minute, at full size. A drift ramps up from its `onset`
  (its first minute, about 1/30 of its full size) and starts, as an anomaly to detect,
  at the minute it reaches a quarter of its full size (5 to 10 minutes after onset);
  an alert from its onset on is explained by it.

The metric names and label keys are the catalog's (crates/voxscope-core/src/catalog.rs),
the provider names and chains the demo's (examples/voice_agent/providers.rs). Traffic
follows a daily profile (low at 03:00 UTC, peak at 15:00) and a weekly one (weekends
quieter), with noise. Unless --clean, the last week also carries the operations
scenario: the TTS primary (elevenlabs) falls back to azure on about 7 % of turns, mostly
rate_limited; over the last four days active calls trend up to pass the call capacity
(200) at the first daily peak after the month ends (near 88 % of it at the end); the LLM
primary's (groq) daily tokens approach its daily budget (550M). --clean is
the same month without anomalies and without the scenario.

Python 3 standard library only; the same --seed and flags give the same bytes.
"""

import argparse
import json
import math
import os
import random
from array import array
from datetime import datetime, timezone

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY

TRANSPORT = "twilio"
# Catalog bounds: VOICE_LATENCY_BUCKETS and TOKEN_BUCKETS.
LATENCY_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0]
TOKEN_BUCKETS = [4.0**i for i in range(14)]

# The demo's chains: (kind, primary, fallback), and each provider's median TTFB (s).
CHAINS = [("stt", "deepgram", "google"), ("llm", "groq", "openai"), ("tts", "elevenlabs", "azure")]
TTFB_MEDIAN = {
    "deepgram": 0.12,
    "google": 0.18,
    "groq": 0.25,
    "openai": 0.35,
    "elevenlabs": 0.15,
    "azure": 0.22,
}
TTFB_SIGMA = 0.4
TURN_MEDIAN = 0.55
TURN_SIGMA = 0.35
# Error classes of a failing provider, and how they are shared out in normal times.
ERROR_CLASSES = ["rate_limited", "unavailable", "timeout"]
ERROR_SHARE = [0.3, 0.4, 0.3]
BASE_ERROR_RATE = {"primary": 0.004, "fallback": 0.003}

# Traffic: concurrent calls at the weekday peak, three-minute calls, a turn every 15 s.
PEAK_CALLS = 140.0
CALL_MINUTES = 3.0
TURNS_PER_CALL_MINUTE = 4.0
CALL_OUTCOMES = [("completed", 0.92), ("dropped", 0.05), ("failed", 0.03)]

# The scenario's configuration (also what --clean assumes).
CALLS_CAPACITY = 200.0
GROQ_DAILY_TOKEN_BUDGET = 550_000_000
INPUT_TOKENS = 600.0
OUTPUT_TOKENS = 80.0
TTS_CHARACTERS_PER_TURN = 120.0


def lognormal_cdf(x, median, sigma):
    """P(X <= x) for a log-normal with this median and log-sigma."""
    if x <= 0.0:
        return 0.0
    return 0.5 * (1.0 + math.erf(math.log(x / median) / (sigma * math.sqrt(2.0))))


def daily_shape(t):
    """0.1 at 03:00 UTC, 1.0 at 15:00."""
    hour = (t % DAY) / HOUR
    return 0.1 + 0.9 * (0.5 - 0.5 * math.cos(2.0 * math.pi * (hour - 3.0) / 24.0))


def weekly_shape(t):
    """Weekdays 1.0, Saturday 0.7, Sunday 0.6."""
    weekday = datetime.fromtimestamp(t, timezone.utc).weekday()
    return {5: 0.7, 6: 0.6}.get(weekday, 1.0)


class Noise:
    """Seeded noise: a slow AR(1) wander and white noise."""

    def __init__(self, rng, rho, sigma):
        self.rng, self.rho, self.sigma, self.state = rng, rho, sigma, 0.0

    def next(self):
        self.state = self.rho * self.state + self.rng.gauss(0.0, self.sigma)
        return self.state


def count(rng, mean):
    """A non-negative whole count near `mean` (normal approximation of Poisson)."""
    if mean <= 0.0:
        return 0
    return max(0, int(round(mean + rng.gauss(0.0, math.sqrt(mean)))))


class Effects:
    """The injected anomalies, as multipliers and additions per signal and minute."""

    def __init__(self, anomalies):
        self.anomalies = anomalies

    def _profile(self, a, t):
        """0..1: how much of the anomaly is in force at t."""
        if not a["start"] <= t < a["end"]:
            return 0.0
        if a["kind"] == "drift":
            ramp = a["ramp"]
            return min(1.0, (t - a["start"] + MINUTE) / ramp)
        return 1.0

    def factor(self, signal, t, **labels):
        f = 1.0
        for a in self.anomalies:
            if a["signal"] == signal and all(a["labels"].get(k) == v for k, v in labels.items()):
                f *= 1.0 + (a["magnitude"] - 1.0) * self._profile(a, t)
        return f

    def extra(self, signal, t, **labels):
        add = 0.0
        for a in self.anomalies:
            if a["signal"] == signal and all(a["labels"].get(k) == v for k, v in labels.items()):
                add += a["magnitude"] * self._profile(a, t)
        return add


def plan_anomalies(rng, start, end):
    """Injected anomalies: none in the first week (the weekly band needs it), none on
    call volume or the TTS error ratio in the scenario's last week, at least six hours
    apart, ending six hours before the month does, and none a week (give or take six
    hours) after another on the same signal, so the weekly band is not fed one."""
    targets = [("turn_latency", {"transport": TRANSPORT})]
    for kind, primary, fallback in CHAINS:
        targets.append(("ttfb", {"kind": kind, "provider": primary}))
    for kind, primary, _ in CHAINS:
        targets.append(("error_ratio", {"kind": kind, "provider": primary}))
    targets.append(("call_volume", {"transport": TRANSPORT}))
    kinds = ["spike", "level_shift", "drift"]
    first, last, last_week = start + WEEK + 2 * HOUR, end - 6 * HOUR, end - WEEK
    anomalies = []
    slot = first
    while slot < last:
        signal, labels = rng.choice(targets)
        if slot + 3 * HOUR >= last_week and (signal == "call_volume" or labels.get("kind") == "tts" and signal == "error_ratio"):
            # The scenario's week keeps its traffic trend and its TTS failures clean.
            continue
        kind = rng.choice(kinds)
        begin = slot + rng.randrange(0, 3 * HOUR, MINUTE)
        clash = any(
            a["signal"] == signal and a["labels"] == labels and abs(begin - a["start"] - WEEK) < 6 * HOUR
            for a in anomalies
        )
        if clash:
            slot += 2 * HOUR
            continue
        a = {"kind": kind, "signal": signal, "labels": labels, "start": begin}
        if kind == "spike":
            a["end"] = begin + rng.randrange(10, 31) * MINUTE
        elif kind == "level_shift":
            a["end"] = begin + rng.randrange(90, 181) * MINUTE
        else:
            a["ramp"] = rng.randrange(20, 41) * MINUTE
            a["end"] = begin + a["ramp"] + rng.randrange(60, 121) * MINUTE
        if a["end"] > end:
            break
        if signal in ("turn_latency", "ttfb"):
            a["magnitude"] = {"spike": 2.2, "level_shift": 1.6, "drift": 1.8}[kind] * rng.uniform(0.9, 1.1)
        elif signal == "error_ratio":
            # An added failure share of the provider's requests.
            a["magnitude"] = {"spike": 0.08, "level_shift": 0.04, "drift": 0.05}[kind] * rng.uniform(0.9, 1.1)
        else:
            surge = rng.random() < 0.5
            a["magnitude"] = (
                {"spike": 1.8, "level_shift": 1.5, "drift": 1.7}[kind]
                if surge
                else {"spike": 0.35, "level_shift": 0.5, "drift": 0.4}[kind]
            ) * rng.uniform(0.95, 1.05)
        anomalies.append(a)
        slot = a["end"] + 6 * HOUR
    return anomalies


class Month:
    def __init__(self, args):
        self.start = int(datetime.fromisoformat(args.start.replace("Z", "+00:00")).timestamp())
        self.end = self.start + args.days * DAY
        self.step = MINUTE
        self.times = list(range(self.start, self.end, self.step))
        self.scenario = not args.clean
        self.rng = random.Random(args.seed)
        self.anomalies = [] if args.clean else plan_anomalies(self.rng, self.start, self.end)
        last_week = self.end - WEEK
        if self.scenario:
            self.anomalies.append(
                {
                    "kind": "level_shift",
                    "signal": "error_ratio",
                    "labels": {"kind": "tts", "provider": "elevenlabs"},
                    "start": last_week,
                    "end": self.end,
                    "magnitude": 0.066,
                    "scenario": "tts_rate_limited",
                }
            )
        self.last_week = last_week
        self.effects = Effects(self.anomalies)

    def growth(self, t):
        """The scenario's traffic growth over the last four days: the trend passes the
        call capacity at the first daily peak after the month ends (the last full day's
        peak stays below it)."""
        since = self.end - 4 * DAY
        if not self.scenario or t < since:
            return 1.0
        target = CALLS_CAPACITY * 1.02 / PEAK_CALLS  # at the first peak after the end
        first_peak_after = self.end - self.end % DAY + 15 * HOUR
        if first_peak_after <= self.end:
            first_peak_after += DAY
        slope = (target - 1.0) / (first_peak_after - since)
        return 1.0 + slope * (t - since)

    def simulate(self):
        """The latent per-minute state: concurrent calls and, per minute, the turns,
        their latency medians and every provider's requests and failures."""
        rng = self.rng
        load_noise = Noise(rng, 0.98, 0.006)
        lat_noise = Noise(rng, 0.95, 0.01)
        ttfb_noise = {p: Noise(rng, 0.95, 0.012) for p in TTFB_MEDIAN}
        n = len(self.times)
        self.active = array("d", [0.0]) * n
        self.turns = array("d", [0.0]) * n
        self.turn_median = array("d", [0.0]) * n
        self.ended = {o: array("d", [0.0]) * n for o, _ in CALL_OUTCOMES}
        self.requests = {}  # (kind, provider, outcome) -> per-minute
        self.errors = {}  # (kind, provider, class) -> per-minute
        self.fallbacks = {}  # (kind, from, to, reason) -> per-minute
        self.ttfb_median = {p: array("d", [0.0]) * n for p in TTFB_MEDIAN}
        self.ttfb_count = {p: array("d", [0.0]) * n for p in TTFB_MEDIAN}
        self.tokens = {(p, tt): array("d", [0.0]) * n for p in ("groq", "openai") for tt in ("input", "output")}
        self.token_count = {p: array("d", [0.0]) * n for p in ("groq", "openai")}
        self.token_mean = {(p, tt): array("d", [0.0]) * n for p in ("groq", "openai") for tt in ("input", "output")}
        self.characters = {p: array("d", [0.0]) * n for p in ("elevenlabs", "azure")}

        def per(key, table):
            if key not in table:
                table[key] = array("d", [0.0]) * n
            return table[key]

        for kind, primary, fallback in CHAINS:
            for p in (primary, fallback):
                for o in ("ok", "error", "timeout"):
                    per((kind, p, o), self.requests)
                for c in ERROR_CLASSES:
                    per((kind, p, c), self.errors)
            for c in ERROR_CLASSES:
                per((kind, primary, fallback, c), self.fallbacks)

        blip_every = DAY  # about one single-minute blip a day per latency signal
        for i, t in enumerate(self.times):
            volume = self.effects.factor("call_volume", t, transport=TRANSPORT)
            level = PEAK_CALLS * daily_shape(t) * weekly_shape(t) * self.growth(t) * volume
            level *= math.exp(load_noise.next())
            # A state, not a per-minute count: it wanders with the load, by a call or two.
            active = max(0, int(round(level + rng.gauss(0.0, 1.0))))
            self.active[i] = active
            turns = count(rng, active * TURNS_PER_CALL_MINUTE)
            self.turns[i] = turns
            for o, share in CALL_OUTCOMES:
                self.ended[o][i] = count(rng, active / CALL_MINUTES * share)
            blip = 1.35 if rng.random() < MINUTE / blip_every else 1.0
            load = active / PEAK_CALLS
            self.turn_median[i] = (
                TURN_MEDIAN
                * (1.0 + 0.08 * load)
                * math.exp(lat_noise.next())
                * blip
                * self.effects.factor("turn_latency", t, transport=TRANSPORT)
            )
            for kind, primary, fallback in CHAINS:
                rate = BASE_ERROR_RATE["primary"] + self.effects.extra("error_ratio", t, kind=kind, provider=primary)
                scenario = any(a.get("scenario") and a["start"] <= t < a["end"] and a["labels"]["provider"] == primary for a in self.anomalies)
                share = [0.8, 0.12, 0.08] if scenario else ERROR_SHARE
                failures = count(rng, turns * min(rate, 1.0))
                failures = min(failures, turns)
                by_class = _split(rng, failures, share)
                ok = turns - failures
                self.requests[(kind, primary, "ok")][i] = ok
                self.requests[(kind, primary, "timeout")][i] = by_class[2]
                self.requests[(kind, primary, "error")][i] = failures - by_class[2]
                for c, v in zip(ERROR_CLASSES, by_class):
                    self.errors[(kind, primary, c)][i] = v
                    self.fallbacks[(kind, primary, fallback, c)][i] = v
                fb_failures = count(rng, failures * BASE_ERROR_RATE["fallback"])
                fb_failures = min(fb_failures, failures)
                fb_class = _pick(rng, ERROR_SHARE) if fb_failures else 0
                self.requests[(kind, fallback, "ok")][i] = failures - fb_failures
                self.requests[(kind, fallback, "timeout" if fb_class == 2 else "error")][i] += fb_failures
                self.errors[(kind, fallback, ERROR_CLASSES[fb_class])][i] += fb_failures
                for p, served in ((primary, turns), (fallback, failures)):
                    self.ttfb_count[p][i] = served
                    self.ttfb_median[p][i] = (
                        TTFB_MEDIAN[p]
                        * (1.0 + 0.05 * load)
                        * math.exp(ttfb_noise[p].next())
                        * blip
                        * self.effects.factor("ttfb", t, kind=kind, provider=p)
                    )
                if kind == "llm":
                    for p, served in ((primary, ok), (fallback, failures - fb_failures)):
                        self.token_count[p][i] = served
                        prompt = INPUT_TOKENS * self.prompt_growth(t)
                        for tt, mean in (("input", prompt), ("output", OUTPUT_TOKENS)):
                            m = mean * rng.uniform(0.97, 1.03)
                            self.token_mean[(p, tt)][i] = m
                            self.tokens[(p, tt)][i] = round(served * m)
                if kind == "tts":
                    for p, served in ((primary, ok), (fallback, failures - fb_failures)):
                        self.characters[p][i] = round(served * TTS_CHARACTERS_PER_TURN * rng.uniform(0.95, 1.05))

    def prompt_growth(self, t):
        """The scenario's longer prompts over the last week (conversation memory grows)."""
        if not self.scenario or t < self.last_week:
            return 1.0
        return 1.0 + 0.25 * (t - self.last_week) / WEEK

    # Output.

    def write(self, out):
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "month.om"), "w", encoding="ascii") as f:
            self._write_om(f)
        labels = {
            "start": self.start,
            "end": self.end,
            "step": self.step,
            "clean": not self.scenario,
            "scenario": {
                "calls_capacity": CALLS_CAPACITY,
                "daily_token_budget": {"llm": {"groq": GROQ_DAILY_TOKEN_BUDGET}},
                "tts_fallback_from": self.last_week if self.scenario else None,
            },
            "daily": self._daily_totals(),
            "anomalies": [_labelled(a) for a in sorted(self.anomalies, key=lambda a: a["start"])],
        }
        with open(os.path.join(out, "labels.json"), "w", encoding="ascii") as f:
            json.dump(labels, f, indent=1)
            f.write("\n")

    def _daily_totals(self):
        """Per UTC day: the LLM primary's tokens, the TTS primary's fallback share and
        the peak of concurrent calls, for readers to check what they compute."""
        days = {}
        for i, t in enumerate(self.times):
            d = days.setdefault(datetime.fromtimestamp(t - t % DAY, timezone.utc).date().isoformat(), [0.0, 0.0, 0.0, 0.0])
            d[0] += self.tokens[("groq", "input")][i] + self.tokens[("groq", "output")][i]
            d[1] += sum(self.fallbacks[("tts", "elevenlabs", "azure", c)][i] for c in ERROR_CLASSES)
            d[2] += self.turns[i]
            d[3] = max(d[3], self.active[i])
        return {
            day: {"groq_tokens": int(v[0]), "tts_fallback_share": round(v[1] / v[2], 4) if v[2] else 0.0, "peak_active_calls": v[3]}
            for day, v in days.items()
        }

    def _write_om(self, f):
        times = self.times
        stamps = [str(t) for t in times]

        def series(name, labels, values, cumulative):
            lab = "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"
            prefix = name + lab + " "
            total = 0.0
            lines = []
            for stamp, v in zip(stamps, values):
                if cumulative:
                    total += v
                    v = total
                lines.append(f"{prefix}{v:.12g} {stamp}\n")
            f.write("".join(lines))

        def family(name, kind, unit, help_):
            f.write(f"# TYPE {name} {kind}\n")
            if unit:
                f.write(f"# UNIT {name} {unit}\n")
            f.write(f"# HELP {name} {help_}\n")

        def histogram(name, labels, counts, medians, sigma, bounds, totals=None):
            """Cumulative buckets, sum and count from per-minute observation counts of a
            log-normal with the per-minute median; `totals` are the per-minute sums where
            they are known exactly."""
            n = len(times)
            cdfs = [array("d", [0.0]) * n for _ in bounds]
            sums = array("d", [0.0]) * n
            for i in range(n):
                c, m = counts[i], medians[i]
                if c <= 0:
                    continue
                for b, le in enumerate(bounds):
                    cdfs[b][i] = math.floor(c * lognormal_cdf(le, m, sigma) + 0.5)
                sums[i] = totals[i] if totals is not None else c * m * math.exp(sigma * sigma / 2.0)
            for b, le in enumerate(bounds):
                series(name + "_bucket", labels + [("le", f"{le:g}" if le < 1e6 else f"{le:.1f}")], cdfs[b], True)
            series(name + "_bucket", labels + [("le", "+Inf")], counts, True)
            series(name + "_sum", labels, sums, True)
            series(name + "_count", labels, counts, True)

        family("voice_calls_active", "gauge", None, "Number of voice calls in progress.")
        series("voice_calls_active", [("transport", TRANSPORT)], self.active, False)
        family("voice_calls_capacity", "gauge", None, "Configured maximum of concurrent voice calls.")
        series("voice_calls_capacity", [("transport", TRANSPORT)], [CALLS_CAPACITY] * len(times), False)
        family("voice_calls", "counter", None, "Voice calls ended, by outcome.")
        for o, _ in CALL_OUTCOMES:
            series("voice_calls_total", [("transport", TRANSPORT), ("outcome", o)], self.ended[o], True)
        family("voice_turn_latency_seconds", "histogram", "seconds", "Voice-to-voice latency.")
        histogram("voice_turn_latency_seconds", [("transport", TRANSPORT)], self.turns, self.turn_median, TURN_SIGMA, LATENCY_BUCKETS)
        family("voice_provider_ttfb_seconds", "histogram", "seconds", "Provider time to first chunk, token or audio byte.")
        for kind, primary, fallback in CHAINS:
            for p in (primary, fallback):
                histogram("voice_provider_ttfb_seconds", [("kind", kind), ("provider", p)], self.ttfb_count[p], self.ttfb_median[p], TTFB_SIGMA, LATENCY_BUCKETS)
        family("voice_provider_requests", "counter", None, "Provider requests, by outcome.")
        for (kind, p, o), values in self.requests.items():
            series("voice_provider_requests_total", [("kind", kind), ("provider", p), ("outcome", o)], values, True)
        family("voice_provider_errors", "counter", None, "Provider errors, by class.")
        for (kind, p, c), values in self.errors.items():
            series("voice_provider_errors_total", [("kind", kind), ("provider", p), ("error", c)], values, True)
        family("voice_provider_fallbacks", "counter", None, "Switches from one provider to the next in a fallback chain.")
        for (kind, frm, to, c), values in self.fallbacks.items():
            series("voice_provider_fallbacks_total", [("kind", kind), ("from", frm), ("to", to), ("reason", c)], values, True)
        family("gen_ai_client_token_usage", "histogram", None, "LLM tokens used per request, by token type.")
        for p in ("groq", "openai"):
            for tt in ("input", "output"):
                labels = [("provider", p), ("token_type", tt)]
                histogram(
                    "gen_ai_client_token_usage",
                    labels,
                    self.token_count[p],
                    self.token_mean[(p, tt)],
                    0.3,
                    TOKEN_BUCKETS,
                    totals=self.tokens[(p, tt)],
                )
        family("voice_tts_characters", "counter", None, "Characters of text sent to text-to-speech providers.")
        for p in ("elevenlabs", "azure"):
            series("voice_tts_characters_total", [("provider", p)], self.characters[p], True)
        f.write("# EOF\n")


def _labelled(a):
    """An anomaly as labels.json lists it: a drift's `start` is the minute it reaches a
    quarter of its full size (see `Effects._profile`), its first minute is `onset`."""
    out = {k: a[k] for k in ("kind", "signal", "labels", "start", "end")}
    if a["kind"] == "drift":
        quarter = math.ceil((a["ramp"] / 4 - MINUTE) / MINUTE) * MINUTE
        out["onset"] = a["start"]
        out["start"] = a["start"] + max(0, quarter)
    if "scenario" in a:
        out["scenario"] = a["scenario"]
    return out


def _split(rng, total, shares):
    """`total` shared out over the classes at random in these proportions."""
    out = [0] * len(shares)
    for _ in range(total):
        out[_pick(rng, shares)] += 1
    return out


def _pick(rng, shares):
    r = rng.random()
    for i, s in enumerate(shares):
        r -= s
        if r < 0.0:
            return i
    return len(shares) - 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--clean", action="store_true", help="no anomalies and no operations scenario")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--days", type=int, default=30, help="length in days (default 30)")
    parser.add_argument(
        "--start", default="2026-11-01T12:00:00Z", help="first sample, UTC (default 2026-11-01T12:00:00Z)"
    )
    args = parser.parse_args()
    if args.days < 8:
        parser.error("--days must be at least 8: a week of history and a day to score")
    month = Month(args)
    month.simulate()
    month.write(args.out)


if __name__ == "__main__":
    main()
