"""Schemas of the field pipelines: taxi trips, FX rates, stock prices and transactions.

Raw inputs are read as text and typed in the transforms, where every failure gets a reason;
these are the typed shapes (and, for FX, the nested shape of the raw JSON).
"""

from pyspark.sql import types as T

#: Money of a taxi trip: dollars and cents.
FARE = T.DecimalType(10, 2)
#: Exchange rates span 1e-6 (USD in BTC) to 1e6 (BTC in INR): 12 decimals, 18 integer digits.
RATE = T.DecimalType(30, 12)
#: Stock prices as quote services publish them (Yahoo gives 6 decimals).
PRICE = T.DecimalType(18, 6)
#: Transaction amounts in the currency's major unit.
AMOUNT = T.DecimalType(18, 2)

#: NYC TLC green-taxi trip records, in the TLC's column order and spelling.
TAXI_TRIPS = T.StructType(
    [
        T.StructField("VendorID", T.IntegerType()),
        T.StructField("lpep_pickup_datetime", T.TimestampType(), nullable=False),
        T.StructField("lpep_dropoff_datetime", T.TimestampType(), nullable=False),
        T.StructField("store_and_fwd_flag", T.StringType()),
        T.StructField("RatecodeID", T.IntegerType()),
        T.StructField("PULocationID", T.IntegerType()),
        T.StructField("DOLocationID", T.IntegerType()),
        T.StructField("passenger_count", T.IntegerType()),
        T.StructField("trip_distance", T.DoubleType(), nullable=False),
        T.StructField("fare_amount", FARE),
        T.StructField("extra", FARE),
        T.StructField("mta_tax", FARE),
        T.StructField("tip_amount", FARE),
        T.StructField("tolls_amount", FARE),
        T.StructField("ehail_fee", FARE),
        T.StructField("improvement_surcharge", FARE),
        T.StructField("total_amount", FARE),
        T.StructField("payment_type", T.IntegerType()),
        T.StructField("trip_type", T.IntegerType()),
        T.StructField("congestion_surcharge", FARE),
    ]
)
#: Columns a taxi file may lack (older files have no congestion_surcharge); they become null.
TAXI_OPTIONAL = ("ehail_fee", "congestion_surcharge")
#: The money columns of a trip, all checked for negative values.
TAXI_AMOUNTS = (
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "ehail_fee",
    "improvement_surcharge",
    "total_amount",
    "congestion_surcharge",
)
#: The trips as typed on reading: money stays text, for ``lakejobs.transforms.taxi`` to type it
#: exactly (a cast alone rounds ``5.555`` to ``5.56``).
TAXI_TRIPS_READ = T.StructType(
    [T.StructField(f.name, T.StringType() if f.name in TAXI_AMOUNTS else f.dataType, f.nullable) for f in TAXI_TRIPS]
)

#: One day's quote inside the FX document; values stay text so a bad one gets its own reason.
FX_QUOTE = T.StructType([T.StructField(name, T.StringType()) for name in ("open", "high", "low", "close")])
#: The whole FX document: base -> quote -> date -> {open, high, low, close}.
FX_DOCUMENT = T.MapType(T.StringType(), T.MapType(T.StringType(), T.MapType(T.StringType(), FX_QUOTE)))
#: The flattened, typed FX rows.
FX_RATES = T.StructType(
    [
        T.StructField("base", T.StringType(), nullable=False),
        T.StructField("quote", T.StringType(), nullable=False),
        T.StructField("date", T.DateType(), nullable=False),
        T.StructField("open", RATE),
        T.StructField("high", RATE),
        T.StructField("low", RATE),
        T.StructField("close", RATE),
    ]
)

#: Daily OHLCV rows.
STOCK_PRICES = T.StructType(
    [
        T.StructField("ticker", T.StringType(), nullable=False),
        T.StructField("date", T.DateType(), nullable=False),
        T.StructField("open", PRICE, nullable=False),
        T.StructField("high", PRICE, nullable=False),
        T.StructField("low", PRICE, nullable=False),
        T.StructField("close", PRICE, nullable=False),
        T.StructField("adj_close", PRICE),
        T.StructField("volume", T.LongType()),
    ]
)
#: Header spellings of real downloads -> column (Yahoo ``Adj Close``, Kaggle ``Name``, Stooq's
#: bulk ``<VOL>``, ...).
STOCK_ALIASES = {
    "symbol": "ticker",
    "name": "ticker",
    "adjclose": "adj_close",
    "price": "date",
    "datetime": "date",
    "vol": "volume",
}

#: Transaction events as they land: every field is read as text, typed in the transform.
TRANSACTION_FIELDS = ("transaction_id", "account_id", "amount", "currency", "event_time", "merchant", "category")
TRANSACTIONS_RAW = T.StructType([T.StructField(name, T.StringType()) for name in TRANSACTION_FIELDS])
#: Fields every transaction must have.
TRANSACTION_REQUIRED = ("transaction_id", "account_id", "amount", "currency", "event_time")
#: The typed, enriched transaction table.
TRANSACTIONS = T.StructType(
    [
        T.StructField("transaction_id", T.StringType(), nullable=False),
        T.StructField("account_id", T.StringType(), nullable=False),
        T.StructField("amount", AMOUNT, nullable=False),
        T.StructField("currency", T.StringType(), nullable=False),
        T.StructField("event_time", T.TimestampType(), nullable=False),
        T.StructField("merchant", T.StringType()),
        T.StructField("category", T.StringType()),
        T.StructField("amount_minor", T.LongType()),
        T.StructField("is_refund", T.BooleanType()),
        T.StructField("event_hour", T.IntegerType()),
        T.StructField("event_date", T.DateType()),
    ]
)
