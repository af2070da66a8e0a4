"""Logic of each resource, over the data-access functions (rfapi/dao) and the adapters."""
