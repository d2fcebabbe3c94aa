"""The thin command line over the personax library."""
