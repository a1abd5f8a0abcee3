"""Arithmetic word problems with worked answers, generated for the project (benign training data).

Why: plain multi-step arithmetic is the commonest benign request, and `[CLS]` judged long worked
answers (rule-3 windows of "3 x 12 = 36 ...") as unusual text: on the evaluation's GSM8K
questions the v4 head flagged 12 of 100 queries and 7 windows. No training source had such
problems with worked answers.

How it was written: from the principle "everyday quantities, two to four operations, each step
stated with its arithmetic", as a dozen scenario families (shopping, travel, cooking, savings,
time, area, sharing, percentages, ages, work rates, unit conversion, stock counts). Names, items
and numbers are drawn with a fixed seed; every answer is computed here, so it is correct by
construction. Nothing was taken from GSM8K or any evaluation set (the recipe's overlap filter
also runs on these prompts). Licence: Apache-2.0 (this project).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from saess.data.base import BENIGN, Example

SEED = 20261126
DEFAULT_COUNT = 480

_NAMES = ("Amara", "Ben", "Chen", "Dalia", "Emil", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kemal",
          "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor",
          "Wen", "Yusuf", "Zoe")
_FRUIT = ("apples", "oranges", "pears", "peaches", "lemons", "plums", "mangoes")
_ITEMS = (("notebook", "notebooks"), ("pen", "pens"), ("mug", "mugs"), ("candle", "candles"),
          ("poster", "posters"), ("scarf", "scarves"), ("plant pot", "plant pots"), ("lamp", "lamps"))


def _money(x: float) -> str:
    return f"${x:,.2f}" if x != int(x) else f"${int(x):,}"


def _shopping(r: random.Random) -> tuple[str, str, str]:
    n = r.choice(_NAMES)
    (a1, a2), (b1, b2) = r.sample(_ITEMS, 2)
    qa, pa, qb, pb = r.randint(2, 9), r.randint(2, 15), r.randint(2, 6), r.randint(3, 25)
    paid = ((qa * pa + qb * pb) // 20 + 1) * 20
    ta, tb = qa * pa, qb * pb
    q = (f"{n} buys {qa} {a2} at {_money(pa)} each and {qb} {b2} at {_money(pb)} each. "
         f"{n} pays with {_money(paid)}. How much change does {n} get?")
    a = (f"The {a2} cost {qa} x {_money(pa)} = {_money(ta)}.\nThe {b2} cost {qb} x {_money(pb)} = {_money(tb)}.\n"
         f"Together that is {_money(ta)} + {_money(tb)} = {_money(ta + tb)}.\n"
         f"The change is {_money(paid)} - {_money(ta + tb)} = {_money(paid - ta - tb)}.")
    return q, a, _money(paid - ta - tb)


def _travel(r: random.Random) -> tuple[str, str, str]:
    n = r.choice(_NAMES)
    s1, h1, s2, h2 = r.randint(40, 90), r.randint(1, 4), r.randint(20, 70), r.randint(1, 3)
    d1, d2 = s1 * h1, s2 * h2
    q = (f"{n} drives at {s1} km per hour for {h1} hours, then at {s2} km per hour for {h2} more hours. "
         f"How far does {n} travel in total, and what is the average speed?")
    avg = (d1 + d2) / (h1 + h2)
    avg_s = f"{avg:g}" if avg == int(avg) else f"{avg:.1f}"
    a = (f"First part: {s1} x {h1} = {d1} km.\nSecond part: {s2} x {h2} = {d2} km.\n"
         f"Total distance: {d1} + {d2} = {d1 + d2} km over {h1} + {h2} = {h1 + h2} hours.\n"
         f"Average speed: {d1 + d2} / {h1 + h2} = {avg_s} km per hour.")
    return q, a, f"{d1 + d2} km, {avg_s} km/h"


def _recipe(r: random.Random) -> tuple[str, str, str]:
    serves, want = r.choice(((4, 6), (4, 10), (2, 6), (6, 9), (3, 12), (8, 12)))
    flour, sugar = r.choice((200, 240, 300, 360)), r.choice((60, 90, 120, 150))
    k = want / serves
    q = (f"A cake recipe for {serves} people uses {flour} g of flour and {sugar} g of sugar. "
         f"How much flour and sugar do I need to make it for {want} people?")
    f2, s2 = flour * k, sugar * k
    fs = f"{f2:g}"
    ss = f"{s2:g}"
    a = (f"Scale the recipe by {want} / {serves} = {k:g}.\nFlour: {flour} x {k:g} = {fs} g.\n"
         f"Sugar: {sugar} x {k:g} = {ss} g.\nSo you need {fs} g of flour and {ss} g of sugar.")
    return q, a, f"{fs} g, {ss} g"


def _savings(r: random.Random) -> tuple[str, str, str]:
    n = r.choice(_NAMES)
    start, weekly, goal = r.randint(0, 60), r.choice((5, 8, 10, 12, 15, 20, 25)), r.randint(150, 600)
    need = goal - start
    weeks = -(-need // weekly)
    q = (f"{n} has saved {_money(start)} and wants to buy a bike that costs {_money(goal)}. "
         f"If {n} saves {_money(weekly)} every week, how many weeks until {n} can afford it?")
    a = (f"{n} still needs {_money(goal)} - {_money(start)} = {_money(need)}.\n"
         f"{_money(need)} / {_money(weekly)} = {need / weekly:.2f} weeks.\n"
         f"Since {n} saves once a week, round up: {weeks} weeks.")
    return q, a, f"{weeks} weeks"


def _time(r: random.Random) -> tuple[str, str, str]:
    n = r.choice(_NAMES)
    tasks = r.sample((("washing the car", 35), ("cooking lunch", 50), ("reading", 45), ("a run", 30),
                      ("homework", 70), ("cleaning the kitchen", 25), ("a video call", 40)), 3)
    start_h, start_m = r.randint(8, 14), r.choice((0, 15, 30, 45))
    total = sum(m for _, m in tasks)
    end = start_h * 60 + start_m + total
    q = (f"{n} starts at {start_h}:{start_m:02d} and spends {tasks[0][1]} minutes on {tasks[0][0]}, "
         f"{tasks[1][1]} minutes on {tasks[1][0]} and {tasks[2][1]} minutes on {tasks[2][0]}, one after "
         f"another. At what time does {n} finish?")
    a = (f"Total time: {tasks[0][1]} + {tasks[1][1]} + {tasks[2][1]} = {total} minutes, which is "
         f"{total // 60} hour(s) and {total % 60} minutes.\nStarting at {start_h}:{start_m:02d}, "
         f"{n} finishes at {end // 60}:{end % 60:02d}.")
    return q, a, f"{end // 60}:{end % 60:02d}"


def _area(r: random.Random) -> tuple[str, str, str]:
    w, l_, price = r.randint(3, 12), r.randint(4, 15), r.choice((8, 12, 15, 20, 25, 30))
    area = w * l_
    q = (f"A rectangular room is {w} m wide and {l_} m long. Flooring costs {_money(price)} per square "
         f"metre. What is the area of the room and how much will the flooring cost?")
    a = (f"Area: {w} x {l_} = {area} square metres.\nCost: {area} x {_money(price)} = {_money(area * price)}.")
    return q, a, _money(area * price)


def _sharing(r: random.Random) -> tuple[str, str, str]:
    fruit = r.choice(_FRUIT)
    boxes, per, kids, eaten = r.randint(2, 6), r.choice((12, 15, 18, 20, 24)), r.choice((3, 4, 5, 6)), r.randint(2, 9)
    total = boxes * per
    left = total - eaten
    each, rest = divmod(left, kids)
    q = (f"There are {boxes} boxes with {per} {fruit} in each. {eaten} {fruit} are eaten, and the rest are "
         f"shared equally among {kids} children. How many does each child get, and how many are left over?")
    a = (f"Total {fruit}: {boxes} x {per} = {total}.\nAfter {eaten} are eaten: {total} - {eaten} = {left}.\n"
         f"{left} = {kids} x {each} + {rest}, so each child gets {each}, with {rest} left over.")
    return q, a, f"{each} each, {rest} left over"


def _percent(r: random.Random) -> tuple[str, str, str]:
    item = r.choice(("jacket", "bicycle", "laptop bag", "pair of boots", "tent", "desk chair"))
    price, off, tax = r.choice((40, 60, 80, 120, 150, 200, 250)), r.choice((10, 15, 20, 25, 30, 40)), r.choice((5, 8, 10))
    sale = price * (100 - off) / 100
    final = round(sale * (100 + tax) / 100, 2)
    q = (f"A {item} costs {_money(price)}. It is on sale for {off}% off, and then a {tax}% sales tax is "
         f"added. What is the final price?")
    a = (f"Discount: {off}% of {_money(price)} = {_money(price * off / 100)}.\n"
         f"Sale price: {_money(price)} - {_money(price * off / 100)} = {_money(sale)}.\n"
         f"Tax: {tax}% of {_money(sale)} = {_money(round(sale * tax / 100, 2))}.\n"
         f"Final price: {_money(final)}.")
    return q, a, _money(final)


def _ages(r: random.Random) -> tuple[str, str, str]:
    a_, b_ = r.sample(_NAMES, 2)
    child, k, years = r.randint(4, 15), r.choice((2, 3, 4)), r.randint(2, 10)
    parent = child * k
    q = (f"{a_} is {k} times as old as {b_}. {b_} is {child} years old. How old will {a_} and {b_} be "
         f"together in {years} years?")
    a = (f"{a_} is {k} x {child} = {parent} years old now.\nIn {years} years: {a_} will be {parent + years} "
         f"and {b_} will be {child + years}.\nTogether: {parent + years} + {child + years} = "
         f"{parent + child + 2 * years} years.")
    return q, a, f"{parent + child + 2 * years}"


def _work(r: random.Random) -> tuple[str, str, str]:
    a_, b_ = r.sample(_NAMES, 2)
    rb, hours = r.randint(5, 17), r.randint(2, 7)
    ra = r.randint(rb + 1, 20)
    thing = r.choice(("cards", "jars of jam", "bracelets", "cupcakes", "envelopes"))
    q = (f"{a_} makes {ra} {thing} an hour and {b_} makes {rb} an hour. They work together for {hours} "
         f"hours. How many {thing} do they make, and how many more does {a_} make than {b_}?")
    a = (f"{a_}: {ra} x {hours} = {ra * hours}.\n{b_}: {rb} x {hours} = {rb * hours}.\n"
         f"Together: {ra * hours} + {rb * hours} = {(ra + rb) * hours}.\n"
         f"Difference: {ra * hours} - {rb * hours} = {(ra - rb) * hours}.")
    return q, a, f"{(ra + rb) * hours}, {(ra - rb) * hours}"


def _units(r: random.Random) -> tuple[str, str, str]:
    laps, lap_m, days = r.randint(4, 20), r.choice((200, 250, 400, 500)), r.randint(3, 7)
    n = r.choice(_NAMES)
    total = laps * lap_m * days
    q = (f"{n} swims {laps} laps of a {lap_m} m pool on each of {days} days this week. How many "
         f"kilometres does {n} swim this week?")
    a = (f"Each day: {laps} x {lap_m} = {laps * lap_m} m.\nThe week: {laps * lap_m} x {days} = {total} m.\n"
         f"In kilometres: {total} / 1000 = {total / 1000:g} km.")
    return q, a, f"{total / 1000:g} km"


def _stock(r: random.Random) -> tuple[str, str, str]:
    thing = r.choice(("loaves of bread", "bottles of juice", "packs of batteries", "bags of rice"))
    start, sold1, sold2, delivered = r.randint(80, 200), r.randint(10, 40), r.randint(10, 40), r.randint(20, 60)
    end = start - sold1 - sold2 + delivered
    q = (f"A shop has {start} {thing}. It sells {sold1} on Monday and {sold2} on Tuesday, and a delivery of "
         f"{delivered} arrives on Wednesday morning. How many {thing} does the shop have on Wednesday?")
    a = (f"After Monday: {start} - {sold1} = {start - sold1}.\nAfter Tuesday: {start - sold1} - {sold2} = "
         f"{start - sold1 - sold2}.\nAfter the delivery: {start - sold1 - sold2} + {delivered} = {end}.")
    return q, a, f"{end}"


FAMILIES: dict[str, Callable[[random.Random], tuple[str, str, str]]] = {
    "shopping": _shopping, "travel": _travel, "recipe": _recipe, "savings": _savings, "time": _time,
    "area": _area, "sharing": _sharing, "percent": _percent, "ages": _ages, "work": _work,
    "units": _units, "stock": _stock,
}

_ENDINGS = ("", " Show your working.", " Explain each step.", " Please walk me through it.")


def word_problems(count: int = DEFAULT_COUNT, seed: int = SEED) -> list[Example]:
    """`count` distinct problems (round-robin over the families), each with its worked answer."""
    r = random.Random(seed)
    fams = list(FAMILIES.items())
    out: list[Example] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < count:
        tries += 1
        if tries > count * 20:
            raise RuntimeError("word problem generator: too many duplicates")
        fam, make = fams[len(out) % len(fams)]
        q, a, final = make(r)
        q += r.choice(_ENDINGS)
        if q in seen:
            continue
        seen.add(q)
        out.append(Example(q, BENIGN, "wordproblems", f"{a}\nAnswer: {final}", category="math",
                           meta={"family": fam}))
    return out


def parse_wordproblems(files) -> list[Example]:
    return word_problems()


WORDPROBLEMS_NOTE = (f"generated by saess.data.wordproblems.word_problems(count={DEFAULT_COUNT}, seed={SEED}): "
                     "12 scenario families written for this project from the principle 'everyday quantities, "
                     "two to four operations, each step stated'; answers computed, not written; nothing taken "
                     "from GSM8K or another evaluation set")
