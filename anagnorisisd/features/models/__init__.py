"""The models feature: downloads the panel asks for, and whether the hub can be reached."""
