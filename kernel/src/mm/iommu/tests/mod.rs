//! Host tests of the IOMMU's pure parts: ACPI fixtures, register fields,
//! table entries and walks over a fake memory, fault records.

mod context;
mod dmar;
mod fake_memory;
mod faults;
mod page_table;
mod registers;
