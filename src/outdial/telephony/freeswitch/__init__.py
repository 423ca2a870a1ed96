"""The FreeSWITCH driver (inbound Event Socket): see driver.py."""
