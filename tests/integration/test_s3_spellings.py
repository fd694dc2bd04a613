"""One S3 object read under two schemes (``s3a://`` from a laptop, ``s3://`` on Glue or EMR) is one file."""

from lakejobs.generate_field import TAXI_COLUMNS
from tests.jobs import test_field_reloads as reloads
from tests.jobs import test_taxi_trips as taxi


def keys(s3, bucket, prefix):
    pages = s3["client"].get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_a_taxi_file_loaded_as_s3a_then_as_s3_replaces_its_trips_and_bad_records(spark, s3, bucket):
    bad = reloads.trip("2019-01-31 11:00:00", "2019-01-31 10:00:00")
    text = "\n".join([",".join(TAXI_COLUMNS), *reloads.JAN, bad]) + "\n"
    s3["client"].put_object(Bucket=bucket, Key="raw/green_tripdata_2019-01.csv", Body=text.encode())
    for scheme in ("s3a", "s3", "s3a"):
        result = taxi.run_job(
            spark,
            [
                "--input_path",
                f"{scheme}://{bucket}/raw/green_tripdata_2019-01.csv",
                "--output_path",
                f"{scheme}://{bucket}/trips",
                "--quarantine_path",
                f"{scheme}://{bucket}/bad",
                "--max_bad_fraction",
                "0.5",
            ],
        )
        assert (result.rows_read, result.rows_written, result.rows_quarantined) == (5, 4, 1)
        trips = spark.read.parquet(f"s3a://{bucket}/trips")
        assert (trips.count(), trips.select("lpep_pickup_datetime").distinct().count()) == (4, 4)
        records = spark.read.json(f"s3a://{bucket}/bad")
        assert [tuple(row) for row in records.select("reason").collect()] == [("dropoff_before_pickup",)]
        folders = {key.split("/")[1] for key in keys(s3, bucket, "bad/") if key.endswith(".json")}
        assert len(folders) == 1, folders
