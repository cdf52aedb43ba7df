"""The ERP port (`port.py`, provider-neutral), its data-quality checks (`quality.py`, pure) and the Odoo adapter
over JSON-2 (`odoo.py`, with its pure state and field mappings in `odoo_states.py`). See docs/integrations/odoo.md."""
