// Week 5 – checkout (idempotent), order history, order detail, tickets, cancellation.

// A new Idempotency-Key: retrying with the same one replays the answer instead of buying twice.
function newIdempotencyKey() {
    pm.collectionVariables.set("idempotencyKey", pm.variables.replaceIn("{{$guid}}"));
}

function expectTwoTicketsHeld() {
    pm.test("two tickets held", () => pm.expect(pm.response.json().data.totalQuantity).to.eql(2));
}

function expectConfirmedOrder() {
    pm.test("a confirmed order with one ticket per seat", () => {
        const o = pm.response.json().data;
        pm.expect(o.status).to.eql("confirmed");
        pm.expect(o.ticketCount).to.eql(2);
        pm.expect(o.total).to.eql(JSON.parse(pm.collectionVariables.get("expectedTotal")));
        const codes = o.items.flatMap(i => i.tickets.map(t => t.code));
        pm.expect(codes.length).to.eql(2);
        codes.forEach(c => pm.expect(c).to.match(/^[A-Z2-7]{32}$/));
        pm.expect(pm.response.headers.get("Location")).to.eql(`/api/orders/${o.id}`);
    });
}

function expectReplayedOrder() {
    pm.test("replayed, not a second order", () => {
        pm.expect(pm.response.headers.get("Idempotent-Replayed")).to.eql("true");
        pm.expect(pm.response.json().data.id).to.eql(Number(pm.collectionVariables.get("orderId")));
    });
}

function expectNewestOrderFirst() {
    pm.test("newest first: the order just placed", () => {
        pm.expect(pm.response.json().data[0].id).to.eql(Number(pm.collectionVariables.get("orderId")));
    });
}

function expectOrderWithTickets() {
    pm.test("lines, totals and tickets", () => {
        const o = pm.response.json().data;
        pm.expect(o.items[0].tickets.length).to.eql(2);
        pm.expect(o.items[0].eventTitle).to.be.a("string");
        pm.expect(parseFloat(o.total.amount)).to.eql(o.items.reduce((n, i) => n + parseFloat(i.lineTotal.amount), 0));
    });
}

function expectOrderTicketsListed() {
    pm.test("the order's tickets are listed", () => {
        const mine = pm.response.json().data.filter(t => t.orderId === Number(pm.collectionVariables.get("orderId")));
        pm.expect(mine.length).to.eql(2);
        mine.forEach(t => pm.expect(t).to.have.all.keys("id", "code", "status", "checkedInAt", "orderId", "event", "ticketType"));
    });
}

function expectOrderCancelled() {
    pm.test("cancelled, tickets void", () => {
        const o = pm.response.json().data;
        pm.expect(o.status).to.eql("cancelled");
        o.items.forEach(i => i.tickets.forEach(t => pm.expect(t.status).to.eql("void")));
    });
}
