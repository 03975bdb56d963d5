"""The seed README's "Basic Operations" block, unchanged, plus a check of what it printed."""

from bitcask import Bitcask

# Initialize the database
db = Bitcask("data_directory")

# Store data
db.put("key1", "value1")
db.put("key2", {"name": "test", "values": [1, 2, 3]})

# Retrieve data
value = db.get("key1")
print(value)  # Output: "value1"

# Delete data
db.delete("key1")

# Close the database
db.close()

# Beyond the seed: reopen and check that the delete stayed deleted.
db = Bitcask("data_directory")
assert db.get("key1") is None
assert db.get("key2") == {"name": "test", "values": [1, 2, 3]}
print("after reopen:", db.keys())
db.close()
