// Admin – catalogue, reports, check-in, with the demo admin (adminEmail/adminPassword in the
// environment).

function expectAdmin() {
    pm.test("an admin", () => pm.expect(pm.response.json().data.user.role).to.eql("admin"));
}

// A slug no earlier run has taken.
function newSlug() {
    pm.collectionVariables.set("slug", `pm-${Date.now()}`);
}

function expectRenamed() {
    pm.test("renamed", () => pm.expect(pm.response.json().data.name).to.match(/^Renamed pm-/));
}

// An event forty days from now, three hours long.
function eventDatesNextMonth() {
    const start = new Date(Date.now() + 40 * 24 * 3600 * 1000);
    pm.collectionVariables.set("startsAt", start.toISOString());
    pm.collectionVariables.set("endsAt", new Date(start.getTime() + 3 * 3600 * 1000).toISOString());
}

function expectDraft() {
    pm.test("a draft", () => pm.expect(pm.response.json().data.status).to.eql("draft"));
}

function expectPricedInDkk() {
    pm.test("priced in DKK", () => pm.expect(pm.response.json().data.price).to.eql({amount: "199.00", currency: "DKK"}));
}

function expectCapacityEightFourPerCustomer() {
    pm.test("capacity 8, at most 4 per customer", () => {
        const t = pm.response.json().data;
        pm.expect(t.capacity).to.eql(8);
        pm.expect(t.maxPerCustomer).to.eql(4);
    });
}

function expectPublished() {
    pm.test("published", () => pm.expect(pm.response.json().data.status).to.eql("published"));
}

function expectNothingSold() {
    pm.test("with sold counts", () => pm.expect(pm.response.json().data.ticketTypes[0].sold).to.eql(0));
}

function expectTicketUsed() {
    pm.test("used now", () => pm.expect(pm.response.json().data.status).to.eql("used"));
}

function expectFirstScanTime() {
    pm.test("first scan time", () => pm.expect(pm.response.json().firstCheckedInAt).to.be.a("string"));
}

function expectSalesFiguresAddUp() {
    pm.test("figures add up", () => {
        pm.response.json().data.forEach(e => {
            pm.expect(e.remaining).to.eql(Math.max(e.capacity - e.sold - e.held, 0));
            const sold = e.ticketTypes.reduce((n, t) => n + t.sold, 0);
            pm.expect(e.sold).to.eql(sold);
        });
    });
}

function expectCsvWithHeaderRow() {
    pm.test("CSV with a header row", () => {
        pm.expect(pm.response.headers.get("Content-Type")).to.include("text/csv");
        pm.expect(pm.response.text().split("\n")[0]).to.include("event_id,event_title");
    });
}

function expectOverview() {
    pm.test("totals, top events, sales per day", () => {
        const d = pm.response.json().data;
        pm.expect(d.totals.orders).to.be.at.least(1);
        pm.expect(d.topEvents).to.be.an("array");
        pm.expect(d.salesPerDay).to.be.an("array");
    });
}

function expectEventCancelled() {
    pm.test("cancelled; the unscanned ticket voided, the customer's order cancelled", () => {
        const d = pm.response.json().data;
        pm.expect(d.status).to.eql("cancelled");
        pm.expect(d.cancellation).to.eql({ticketsVoided: 1, ordersCancelled: 1});
    });
}
