"""The office's season on top of the core: rosters out (blanks pre-filled per 填报单位), returns
in (the 汇总 workbook, the 退回 files). Everything here works on model objects and forms as data:
no field of one form is named in this package."""
