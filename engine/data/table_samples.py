"""Generated sample tables for the `csv` source (`{"name": "csv", "sample": "customers"}`).

"customers" is a seeded table of 3,000 made-up customers of a subscription service, as a person's
own export would look: a customer id, numbers (age, tenure, monthly charges, support calls), text
categories (plan basic/pro/enterprise, contract, region, a city of 40), empty and "NA" cells
scattered in a few columns, and whether the customer left ("churn": yes/no), drawn from a logistic
model of the other columns so a small network can learn it (a logistic regression on the columns is right about 85% of
the time).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.data.samples import sample_dir
from engine.errors import UserError
from graphs.errors import quoted

CUSTOMERS_VERSION = 1
ROWS = 3000


def sample_table(name) -> Path:
    """The CSV file of sample table `name`, generated the first time it is asked for."""
    if name != "customers":
        raise UserError(f'dataset option "sample" must be "customers" for a csv dataset, got {quoted(name)}')
    return sample_dir("customers", CUSTOMERS_VERSION, write_customers) / "customers.csv"


def write_customers(folder: Path, rows: int = ROWS, seed: int = 14) -> None:
    rng = np.random.default_rng(seed)
    plans = rng.choice(["basic", "pro", "enterprise"], rows, p=[0.5, 0.35, 0.15])
    contracts = rng.choice(["monthly", "yearly", "two-year"], rows, p=[0.55, 0.3, 0.15])
    regions = rng.choice(["north", "south", "east", "west"], rows)
    cities = rng.choice([f"city-{i:02d}" for i in range(40)], rows)
    age = rng.normal(42, 12, rows).clip(18, 90).round()
    tenure = rng.gamma(2.0, 12.0, rows).round()
    charges = (np.select([plans == "basic", plans == "pro"], [20.0, 45.0], 90.0) + rng.normal(0, 8, rows)).round(2)
    calls = rng.poisson(np.where(plans == "basic", 2.0, 1.0))
    city_effect = rng.normal(0, 0.4, 40)[np.array([int(c[-2:]) for c in cities])]
    logit = (0.5 - 0.06 * tenure + 0.45 * calls + 0.02 * (charges - 45)
             + np.select([contracts == "monthly", contracts == "yearly"], [0.9, -0.6], -1.8)
             + np.select([plans == "basic", plans == "pro"], [0.5, 0.0], -0.7) - 0.015 * (age - 42) + city_effect)
    churn = rng.random(rows) < 1 / (1 + np.exp(-2.0 * logit))
    table = {
        "customer_id": [f"C{100000 + i}" for i in range(rows)],
        "age": [f"{v:g}" for v in age], "tenure_months": [f"{v:g}" for v in tenure],
        "monthly_charges": [f"{v:.2f}" for v in charges], "support_calls": [str(v) for v in calls],
        "plan": list(plans), "contract": list(contracts), "region": list(regions), "city": list(cities),
        "churn": ["yes" if c else "no" for c in churn],
    }
    for column, marker, share in (("age", "", 0.08), ("monthly_charges", "NA", 0.04), ("region", "", 0.05),
                                  ("contract", "?", 0.03)):
        for i in np.nonzero(rng.random(rows) < share)[0]:
            table[column][i] = marker
    with open(folder / "customers.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(table)
        writer.writerows(zip(*table.values()))
