"""Deterministic generator of the sales raw zone at any scale, streamed to disk.

``generate(out_dir, orders=N, seed=S)`` writes ``customers/``, ``employees/`` and ``orders/``
CSV folders laid out like the course's raw zone. The same ``(orders, seed)`` always gives the
same bytes. The course's rows are always present verbatim (customers 293/295/297, employees
275-277, order lines 71782/110667, 44110/1732 and 44131/2005); their orders get extra lines
so that every order's lines add up to its subtotal. Money is computed in integer units of
1/10000 so every value is exact.

Synthetic rules: ``linetotal = orderqty * unitprice * (1 - unitpricediscount)`` rounded to
4 places; ``subtotal`` = sum of the order's line totals; ``taxamt`` = 8 % and ``freight`` =
2.5 % of the subtotal; ``totaldue = subtotal + taxamt + freight``; ``duedate`` = order date +
12 days, ``shipdate`` = + 7 days (as in the course's rows).
"""

import csv
import datetime as dt
import glob
import os
import random
import shutil
from typing import Dict, Iterator, List, Sequence, TextIO, Tuple

UNITS = 10000  # money is handled as integers of 1/10000
FIRST_ORDER_ID = 43659
START_DATE = dt.date(2011, 5, 31)
END_DATE = dt.date(2014, 6, 30)
ORDER_LINES_PER_FILE = 1_000_000

COURSE_CUSTOMERS = [(293, "Catherine", "Abel"), (295, "Kim", "Abercrombie"), (297, "Humberto", "Acevedo")]

# employeeid, managerid, first, last, title, level, marital, gender, territory, country, group
EMPLOYEES: List[Tuple] = [
    (273, None, "Brian", "Welcker", "Vice President of Sales", 1, "S", "M", None, None, None),
    (274, 273, "Stephen", "Jiang", "North American Sales Manager", 2, "S", "M", None, "US", "North America"),
    (285, 273, "Syed", "Abbas", "Pacific Sales Manager", 2, "M", "M", None, "AU", "Pacific"),
    (287, 273, "Amy", "Alberts", "European Sales Manager", 2, "M", "F", None, "DE", "Europe"),
    (276, 274, "Linda", "Mitchell", "Sales Representative", 3, "M", "F", "Southwest", "US", "North America"),
    (277, 274, "Jillian", "Carson", "Sales Representative", 3, "S", "F", "Central", "US", "North America"),
    (275, 274, "Michael", "Blythe", "Sales Representative", 3, "S", "M", "Northeast", "US", "North America"),
    (278, 274, "Garrett", "Vargas", "Sales Representative", 3, "M", "M", "Canada", "CA", "North America"),
    (279, 274, "Tsvi", "Reiter", "Sales Representative", 3, "M", "M", "Southeast", "US", "North America"),
    (280, 274, "Pamela", "Ansman-Wolfe", "Sales Representative", 3, "S", "F", "Northwest", "US", "North America"),
    (281, 274, "Shu", "Ito", "Sales Representative", 3, "M", "M", "Southwest", "US", "North America"),
    (282, 274, "José", "Saraiva", "Sales Representative", 3, "M", "M", "Canada", "CA", "North America"),
    (283, 274, "David", "Campbell", "Sales Representative", 3, "S", "M", "Northwest", "US", "North America"),
    (284, 274, "Tete", "Mensa-Annan", "Sales Representative", 3, "M", "M", "Northwest", "US", "North America"),
    (286, 285, "Lynn", "Tsoflias", "Sales Representative", 3, "S", "F", "Australia", "AU", "Pacific"),
    (288, 287, "Rachel", "Valdez", "Sales Representative", 3, "S", "F", "Germany", "DE", "Europe"),
    (289, 287, "Jae", "Pak", "Sales Representative", 3, "M", "F", "United Kingdom", "GB", "Europe"),
    (290, 287, "Ranjit", "Varkey Chudukatil", "Sales Representative", 3, "M", "M", "France", "FR", "Europe"),
]
TERRITORIES = [(e[8], e[9], e[10]) for e in EMPLOYEES if e[8]]

# salesorderid, salesorderdetailid, orderdate, employeeid, customerid, subtotal, taxamt, freight,
# totaldue, productid, orderqty, unitprice, unitpricediscount, linetotal (as the course writes them)
COURSE_ORDER_LINES = [
    (
        "71782",
        "110667",
        "5/1/2014",
        276,
        293,
        "33319.986",
        "3182.8264",
        "994.6333",
        "37497.4457",
        "714",
        "3",
        "29.994",
        "0",
        "89.982",
    ),
    (
        "44110",
        "1732",
        "8/1/2011",
        277,
        295,
        "16667.3077",
        "1600.6864",
        "500.2145",
        "18768.2086",
        "765",
        "2",
        "419.4589",
        "0",
        "838.9178",
    ),
    (
        "44131",
        "2005",
        "8/1/2011",
        275,
        297,
        "20514.2859",
        "1966.5222",
        "614.5382",
        "23095.3463",
        "709",
        "6",
        "5.7",
        "0",
        "34.2",
    ),
]

FIRST_NAMES = [
    "Aaron",
    "Abigail",
    "Adam",
    "Alexandra",
    "Alicia",
    "Amanda",
    "Ana",
    "Andrew",
    "Angela",
    "Anthony",
    "Ashley",
    "Benjamin",
    "Blake",
    "Brandon",
    "Brianna",
    "Caleb",
    "Carlos",
    "Carol",
    "Chloe",
    "Christopher",
    "Cynthia",
    "Daniel",
    "Deborah",
    "Diego",
    "Dylan",
    "Edward",
    "Elena",
    "Elizabeth",
    "Emily",
    "Eric",
    "Ethan",
    "Evelyn",
    "Fernando",
    "Gabriel",
    "Grace",
    "Hailey",
    "Hannah",
    "Isabella",
    "Jacob",
    "Jasmine",
    "Jennifer",
    "Jessica",
    "Jonathan",
    "Jordan",
    "Julia",
    "Justin",
    "Katherine",
    "Kevin",
    "Kyle",
    "Lauren",
    "Logan",
    "Lucas",
    "Luis",
    "Madison",
    "Marcus",
    "Maria",
    "Megan",
    "Miguel",
    "Morgan",
    "Natalie",
    "Nathan",
    "Nicole",
    "Olivia",
    "Paige",
    "Rebecca",
    "Richard",
    "Robert",
    "Samantha",
    "Sara",
    "Sean",
    "Sophia",
    "Stephanie",
    "Taylor",
    "Thomas",
    "Trinity",
    "Victoria",
    "Wyatt",
    "Xavier",
    "Zoe",
]
LAST_NAMES = [
    "Adams",
    "Alexander",
    "Allen",
    "Bailey",
    "Baker",
    "Bell",
    "Brooks",
    "Bryant",
    "Butler",
    "Campbell",
    "Carter",
    "Chen",
    "Clark",
    "Coleman",
    "Collins",
    "Cook",
    "Cooper",
    "Diaz",
    "Edwards",
    "Evans",
    "Flores",
    "Foster",
    "Garcia",
    "Gonzalez",
    "Gray",
    "Green",
    "Griffin",
    "Hall",
    "Harris",
    "Hayes",
    "Henderson",
    "Hernandez",
    "Hill",
    "Huang",
    "Hughes",
    "Jackson",
    "James",
    "Jenkins",
    "Johnson",
    "Jones",
    "Kelly",
    "Kumar",
    "Lee",
    "Lewis",
    "Li",
    "Long",
    "Lopez",
    "Martin",
    "Martinez",
    "Miller",
    "Mitchell",
    "Moore",
    "Morgan",
    "Morris",
    "Murphy",
    "Nelson",
    "Parker",
    "Patterson",
    "Perez",
    "Perry",
    "Peterson",
    "Phillips",
    "Powell",
    "Price",
    "Ramirez",
    "Reed",
    "Richardson",
    "Rivera",
    "Roberts",
    "Rodriguez",
    "Russell",
    "Sanchez",
    "Sanders",
    "Scott",
    "Shan",
    "Simmons",
    "Smith",
    "Stewart",
    "Sun",
    "Taylor",
    "Thomas",
    "Thompson",
    "Torres",
    "Turner",
    "Walker",
    "Ward",
    "Washington",
    "Watson",
    "White",
    "Williams",
    "Wilson",
    "Wood",
    "Wright",
    "Yang",
    "Young",
    "Zhang",
]
DISCOUNTS = [0] * 17 + [200, 500, 1000]  # basis points of the unit price: 0 %, 2 %, 5 %, 10 %

HEADERS = {
    "customers": ["customerid", "firstname", "lastname", "fullname"],
    "employees": [
        "employeeid",
        "managerid",
        "firstname",
        "lastname",
        "fullname",
        "jobtitle",
        "organizationlevel",
        "maritalstatus",
        "gender",
        "territory",
        "country",
        "group",
    ],
    "orders": [
        "salesorderid",
        "salesorderdetailid",
        "orderdate",
        "duedate",
        "shipdate",
        "employeeid",
        "customerid",
        "subtotal",
        "taxamt",
        "freight",
        "totaldue",
        "productid",
        "orderqty",
        "unitprice",
        "unitpricediscount",
        "linetotal",
    ],
}


def money(units: int) -> str:
    """Format integer 1/10000 units the way the course's files do: ``33319.986``, ``0``."""
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), UNITS)
    text = f"{whole}.{fraction:04d}".rstrip("0").rstrip(".")
    return sign + text


def parse_money(text: str) -> int:
    """Integer 1/10000 units of a decimal string."""
    whole, _, fraction = text.partition(".")
    return int(whole) * UNITS + int((fraction + "0000")[:4]) * (1 if not text.startswith("-") else -1)


def us_date(day: dt.date) -> str:
    """``M/d/yyyy`` as the raw files write dates."""
    return f"{day.month}/{day.day}/{day.year}"


def scale_sizes(orders: int) -> Dict[str, int]:
    """Customers and sales representatives for ``orders`` order lines."""
    return {"customers": max(40, orders // 10), "extra_employees": orders // 500_000}


def _open_csv(path: str, header: Sequence[str], with_header: bool) -> Tuple[TextIO, "csv._writer"]:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle = open(path, "w", encoding="utf-8", newline="")
    writer = csv.writer(handle, lineterminator="\n")
    if with_header:
        writer.writerow(header)
    return handle, writer


def customer_rows(count: int, rng: random.Random) -> Iterator[List]:
    """The course's three customers, then synthetic ones with odd ids from 299 on."""
    for customer_id, first, last in COURSE_CUSTOMERS:
        yield [customer_id, first, last, f"{first} {last}"]
    for index in range(count - len(COURSE_CUSTOMERS)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        yield [299 + 2 * index, first, last, f"{first} {last}"]


def employee_rows(extra: int, rng: random.Random) -> Iterator[List]:
    """The sales organisation, plus ``extra`` synthetic representatives for large scales."""
    for row in EMPLOYEES:
        yield [row[0], row[1], row[2], row[3], f"{row[2]} {row[3]}", *row[4:]]
    for index in range(extra):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        territory, country, group = rng.choice(TERRITORIES)
        manager = {"Pacific": 285, "Europe": 287}.get(group, 274)
        marital, gender = rng.choice("MS"), rng.choice("MF")
        yield [
            1000 + index,
            manager,
            first,
            last,
            f"{first} {last}",
            "Sales Representative",
            3,
            marital,
            gender,
            territory,
            country,
            group,
        ]


class OrderLineWriter:
    """Writes order lines into files of at most ``ORDER_LINES_PER_FILE`` lines."""

    def __init__(self, folder: str, with_header: bool) -> None:
        self.folder, self.with_header = folder, with_header
        self.lines, self.files = 0, 0
        self.handle, self.writer = None, None

    def write(self, row: List) -> None:
        """Write one line, opening the next file when the current one is full."""
        if self.lines % ORDER_LINES_PER_FILE == 0:
            self.close()
            path = os.path.join(self.folder, f"orders-{self.files:05d}.csv")
            self.handle, self.writer = _open_csv(path, HEADERS["orders"], self.with_header)
            self.files += 1
        self.writer.writerow(row)
        self.lines += 1

    def close(self) -> None:
        """Close the current file."""
        if self.handle:
            self.handle.close()
            self.handle = None


def _order_rows(
    order_id: int,
    detail_ids: Iterator[int],
    day: dt.date,
    employee: int,
    customer: int,
    lines: List[Tuple[int, int, int, int]],
) -> List[List]:
    """Rows of one order from (productid, qty, unitprice units, discount basis points)."""
    totals = [qty * price * (10000 - discount) // 10000 for _product, qty, price, discount in lines]
    subtotal = sum(totals)
    tax, freight = subtotal * 8 // 100, subtotal * 25 // 1000
    dates = [us_date(day), us_date(day + dt.timedelta(days=12)), us_date(day + dt.timedelta(days=7))]
    head = [
        order_id,
        None,
        *dates,
        employee,
        customer,
        money(subtotal),
        money(tax),
        money(freight),
        money(subtotal + tax + freight),
    ]
    rows = []
    for (product, qty, price, discount), total in zip(lines, totals):
        row = list(head)
        row[1] = next(detail_ids)
        rows.append(row + [product, qty, money(price), money(discount * UNITS // 10000), money(total)])
    return rows


def _course_order_rows(course_line: Tuple, detail_ids: Iterator[int]) -> List[List]:
    """A course order line verbatim, plus filler lines so the order's lines add up to its subtotal."""
    order_id, detail_id, orderdate, employee, customer, subtotal, tax, freight, due = course_line[:9]
    product, qty, price, discount, linetotal = course_line[9:]
    month, day, year = (int(part) for part in orderdate.split("/"))
    day0 = dt.date(year, month, day)
    dates = [orderdate, us_date(day0 + dt.timedelta(days=12)), us_date(day0 + dt.timedelta(days=7))]
    head = [order_id, detail_id, *dates, employee, customer, subtotal, tax, freight, due]
    rows = [head + [product, qty, price, discount, linetotal]]
    remaining = parse_money(subtotal) - parse_money(linetotal)
    pieces = max(1, -(-remaining // (12000 * UNITS)))
    for index in range(pieces):
        share = remaining // pieces if index < pieces - 1 else remaining - (remaining // pieces) * (pieces - 1)
        row = list(head)
        row[1] = next(detail_ids)
        rows.append(row + [str(749 + index), "1", money(share), "0", money(share)])
    return rows


def _detail_id_counter(skip: Sequence[int]) -> Iterator[int]:
    skipped, value = set(skip), 0
    while True:
        value += 1
        if value not in skipped:
            yield value


def generate(out_dir: str, orders: int, seed: int = 42, header: bool = False) -> Dict[str, int]:
    """Write the sales raw zone below ``out_dir``; return the line count of each dataset.

    The zone is written into a hidden folder of ``out_dir`` first; each dataset's folder then
    replaces the one ``out_dir`` had, so no file of an earlier, larger run is left beside the
    new ones, and a run stopped part-way leaves the earlier zone as it was.

    Parameters
    ----------
    out_dir : str
        Receives ``customers/customers.csv``, ``employees/employees.csv`` and
        ``orders/orders-NNNNN.csv``, replacing those three folders.
    orders : int
        Order lines to write (at least the course's lines and their fillers are written).
    seed : int
        Same seed, same bytes.
    header : bool
        Write a header row in every file (the variant catalog crawlers like).
    """
    for stale in glob.glob(os.path.join(glob.escape(out_dir), ".lakejobs-generate-*")):
        shutil.rmtree(stale, ignore_errors=True)  # left by a run that was killed
    staging = os.path.join(out_dir, f".lakejobs-generate-{os.getpid()}")
    try:
        counts = _write_zone(staging, orders, seed, header)
        for name in counts:
            target = os.path.join(out_dir, name)
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            elif os.path.lexists(target):
                os.remove(target)  # a file, or a link (to a folder too): the link goes, not what it names
            os.replace(os.path.join(staging, name), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts


#: The fewest order lines a zone has: the course's order lines and their orders' other lines come first.
MIN_ORDER_LINES = 10


def _write_zone(out_dir: str, orders: int, seed: int, header: bool) -> Dict[str, int]:
    rng = random.Random(seed)
    sizes = scale_sizes(orders)
    counts = {"customers": 0, "employees": 0, "orders": 0}
    handle, writer = _open_csv(os.path.join(out_dir, "customers", "customers.csv"), HEADERS["customers"], header)
    with handle:
        for row in customer_rows(sizes["customers"], rng):
            writer.writerow(row)
            counts["customers"] += 1
    representatives = [row[0] for row in EMPLOYEES if row[0] != 273]
    handle, writer = _open_csv(os.path.join(out_dir, "employees", "employees.csv"), HEADERS["employees"], header)
    with handle:
        for row in employee_rows(sizes["extra_employees"], rng):
            writer.writerow(row)
            representatives.append(row[0]) if row[0] >= 1000 else None
            counts["employees"] += 1
    counts["orders"] = _write_orders(out_dir, orders, rng, sizes["customers"], representatives, header)
    return counts


def _write_orders(
    out_dir: str, orders: int, rng: random.Random, customers: int, representatives: List[int], header: bool
) -> int:
    course_ids = {int(line[0]) for line in COURSE_ORDER_LINES}
    detail_ids = _detail_id_counter([int(line[1]) for line in COURSE_ORDER_LINES])
    out = OrderLineWriter(os.path.join(out_dir, "orders"), header)
    for course_line in COURSE_ORDER_LINES:
        for row in _course_order_rows(course_line, detail_ids):
            out.write(row)
    customer_ids = [293, 295, 297] + [299 + 2 * i for i in range(customers - 3)]
    expected_orders = max(1, orders // 3)
    span = (END_DATE - START_DATE).days
    order_id, index = FIRST_ORDER_ID, 0
    while out.lines < orders:
        while order_id in course_ids:
            order_id += 1
        day = START_DATE + dt.timedelta(days=min(span, index * span // expected_orders))
        line_count = min(rng.randint(1, 5), orders - out.lines)
        lines = [
            (rng.randint(707, 999), rng.randint(1, 8), rng.randint(2 * UNITS, 3600 * UNITS), rng.choice(DISCOUNTS))
            for _ in range(line_count)
        ]
        for row in _order_rows(order_id, detail_ids, day, rng.choice(representatives), rng.choice(customer_ids), lines):
            out.write(row)
        order_id, index = order_id + 1, index + 1
    out.close()
    return out.lines
