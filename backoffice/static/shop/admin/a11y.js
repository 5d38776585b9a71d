// Every admin page: each select2 box (the admin's autocomplete fields) is named by its field's
// label and then its value, as screen readers expect of a combobox. Boxes added later (a new
// inline row) are named when they appear.
"use strict";
(function () {
    let counter = 0;

    function nameBox(box) {
        const container = box.closest(".select2-container");
        const select = container && container.previousElementSibling;
        if (!select || select.tagName !== "SELECT" || !select.labels || !select.labels.length) {
            return;
        }
        const label = select.labels[0];
        if (!label.id) {
            counter += 1;
            label.id = `select2-label-${counter}`;
        }
        const current = (box.getAttribute("aria-labelledby") || "").split(" ").filter(Boolean);
        if (!current.includes(label.id)) {
            box.setAttribute("aria-labelledby", [label.id, ...current].join(" "));
        }
        // The shown value is a read-only textbox of its own: named by the label too.
        const shown = box.querySelector(".select2-selection__rendered");
        if (shown) {
            shown.setAttribute("aria-labelledby", label.id);
        }
    }

    function nameAll(root) {
        root.querySelectorAll(".select2-selection[role=combobox]").forEach(nameBox);
    }

    document.addEventListener("DOMContentLoaded", function () {
        // django-import-export's "Select all" box on the export page (its template's inline
        // handler moved here).
        if (typeof window.onSelectToggleChange === "function") {
            document.querySelectorAll(".select-toggle").forEach(function (box) {
                box.addEventListener("change", window.onSelectToggleChange);
            });
        }
        nameAll(document);
        new MutationObserver(function (changes) {
            for (const change of changes) {
                change.addedNodes.forEach(function (node) {
                    if (node.nodeType === Node.ELEMENT_NODE) {
                        nameAll(node.parentNode || node);
                    }
                });
            }
        }).observe(document.body, {childList: true, subtree: true});
    });
})();
